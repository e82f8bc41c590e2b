using System.Text.Json.Nodes;
using System.Runtime.CompilerServices;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Steps;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// <c>agent</c>: a model with instructions and tools, looping until it answers or a cap ends it (docs/AGENTS.md). The
/// step's output is <c>{"answer", "stop_reason": "answered" | "max_turns" | "max_tokens" | "max_cost_usd", "turns",
/// "tool_calls", "usage", "turn_log"}</c>. The loop itself is durable (<see cref="AgentLoop"/>); the finished step is
/// checkpointed like any leaf step.
/// </summary>
internal sealed class AgentStepHandler(
    ILlmGateway? llm, AgentServices services, TransformRegistry transforms, IExternalServiceGateway? external, PromptLibrary? prompts, IPriceTable? prices)
    : IStepHandler
{
    private static readonly ConditionalWeakTable<Definitions.StepDefinition, AgentStepConfig> Configs = new();

    public bool IsCheckpointed => true;

    public async ValueTask<JsonNode?> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var gateway = llm ?? throw WorkflowException.Config("llm_not_configured", "No LLM gateway is registered.");
        var config = Configs.GetValue(context.Step, Parse);
        var opening = Opening(context, config);
        context.Input = new JsonObject { ["input"] = opening[^1].Text, ["tools"] = new JsonArray([.. config.Tools.Select(t => (JsonNode)t.Name)]) };
        context.RenderedPrompt = string.Join("\n\n", opening.Select(m => m.Canonical));
        List<McpToolSource> mcpSources = [];
        try
        {
            var toolbox = await ToolboxAsync(config, context, mcpSources, cancellationToken).ConfigureAwait(false);
            var loop = new AgentLoop(new AgentLoopSetup(config, toolbox, services, gateway, prices), context);
            return await loop.RunAsync(opening, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var source in mcpSources)
            {
                await source.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static AgentStepConfig Parse(Definitions.StepDefinition step)
    {
        var config = AgentStepConfig.Parse(step.Config, out var problems);
        return problems.Count == 0
            ? config
            : throw WorkflowException.Config("invalid_step_config", $"agent step \"{step.Id}\": {string.Join(" ", problems)}");
    }

    /// <summary>The loop's first messages: the instructions (system) and the input (user), the same on every resume.</summary>
    private List<AgentMessage> Opening(StepContext context, AgentStepConfig config)
    {
        var variables = ValueResolver.Resolve(config.Variables, context.Scope) ?? context.Scope.Input;
        var library = context.Run.Prompts ?? prompts;
        List<AgentMessage> opening = [];
        var instructions = config.InstructionsFile is { } file
            ? (library ?? throw WorkflowException.Config("prompts_not_configured", $"Instructions file \"{file}\" needs a prompt library.")).Render(file, variables)
            : config.Instructions is { } text
                ? (library?.FromText(Resolve(text, context.Scope)) ?? PromptTemplate.FromText(Resolve(text, context.Scope))).Render(variables)
                : null;
        if (instructions is not null)
        {
            opening.Add(AgentMessage.From(new ChatMessage(ChatRole.System, instructions)));
        }

        opening.Add(AgentMessage.From(new ChatMessage(ChatRole.User, Resolve(config.Input, context.Scope))));
        return opening;
    }

    private static string Resolve(string text, ExpressionScope scope) =>
        TextTemplate.MayContainExpression(text) ? ValueResolver.ResolveText(text, scope) : text;

    private async Task<AgentToolbox> ToolboxAsync(AgentStepConfig config, StepContext context, List<McpToolSource> mcpSources, CancellationToken cancellationToken)
    {
        var tools = new Dictionary<string, IAgentTool>(StringComparer.Ordinal);
        var definitions = new Dictionary<string, AgentToolDefinition>(StringComparer.Ordinal);
        foreach (var definition in config.Tools)
        {
            if (definition.Type == AgentToolDefinition.Mcp)
            {
                var (source, listed) = await McpToolSource.ConnectAsync(definition, services.ToolHttp, cancellationToken).ConfigureAwait(false);
                mcpSources.Add(source);
                foreach (var tool in listed)
                {
                    // A declared tool of the same name wins: the definition is explicit, a server's list may change.
                    if (tools.TryAdd(tool.Declaration.Name, tool))
                    {
                        definitions[tool.Declaration.Name] = definition;
                    }
                }

                continue;
            }

            tools[definition.Name] = definition.Type switch
            {
                AgentToolDefinition.Http => new HttpAgentTool(definition, services.ToolHttp, services.MaxToolResultChars),
                AgentToolDefinition.Transform => new TransformAgentTool(definition, transforms),
                AgentToolDefinition.ExternalApi => new ExternalApiAgentTool(definition, external),
                AgentToolDefinition.Workflow => new WorkflowAgentTool(definition, services.Workflows, services.Store, context),
                _ => throw WorkflowException.Config("unsupported_tool", $"Tool \"{definition.Name}\": type \"{definition.Type}\" is not supported."),
            };
            definitions[definition.Name] = definition;
        }

        return new AgentToolbox(tools, definitions);
    }
}
