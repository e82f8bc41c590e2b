using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Steps;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// Runs another workflow of the service as a child of an agent step's tool call: found by name, run to its end in the
/// calling worker under the parent run's tenant, user, prices and prompts. Hosts with a catalog provide it
/// (<see cref="CatalogChildWorkflows"/>).
/// </summary>
public interface IChildWorkflows
{
    /// <summary>The workflow named <paramref name="name"/>, or null when there is none.</summary>
    WorkflowDefinition? Find(string name);

    Task<WorkflowRunResult> RunAsync(WorkflowDefinition workflow, JsonNode? input, WorkflowRunOptions options, CancellationToken cancellationToken);
}

/// <summary>Children from a lookup by name, run by a runner resolved at the first call (the runner holds the agent module).</summary>
public sealed class CatalogChildWorkflows(Func<string, WorkflowDefinition?> find, Func<WorkflowRunner> runner) : IChildWorkflows
{
    private readonly Lazy<WorkflowRunner> _runner = new(runner);

    public WorkflowDefinition? Find(string name) => find(name);

    public Task<WorkflowRunResult> RunAsync(WorkflowDefinition workflow, JsonNode? input, WorkflowRunOptions options, CancellationToken cancellationToken) =>
        _runner.Value.RunAsync(workflow, input, options, cancellationToken);
}

/// <summary>
/// <c>workflow</c>: a sub-workflow run as a tool. The child's input is the tool's <c>input</c> template resolved against
/// the arguments (<c>${item.x}</c>), or the arguments themselves; it must pass the child's <c>input_schema</c>. The
/// model gets <c>{"workflow", "status", "output"}</c> (or <c>"error"</c>). Like every tool the call goes through the
/// ledger: a finished child is never run again. Inside the call the child's steps are checkpointed on the agent store
/// under the call's idempotency key (<see cref="IAgentStore.ChildCheckpoints"/>), so a child interrupted by a crash
/// resumes, under the same run id, from its last finished step: a finished child LLM call is not paid again. Its LLM
/// usage (restored steps' included, as a resumed job counts them) is added to the agent step's, and the job's remaining
/// <c>max_cost_usd</c> is its own. Each paid child call gets one <c>llm_provider_usage</c> row, written by the
/// checkpoint store with the child step's checkpoint (<see cref="IAgentStore.ChildCheckpoints"/>). A child cannot wait (sleep, signals, approvals) and cannot contain an agent step.
/// </summary>
internal sealed class WorkflowAgentTool(AgentToolDefinition definition, IChildWorkflows? workflows, IAgentStore store, StepContext parent)
    : DeclaredAgentTool(definition)
{
    public override async Task<JsonNode?> InvokeAsync(AgentToolInvocation invocation, CancellationToken cancellationToken)
    {
        var name = (string)Definition.Spec["workflow"]!;
        var children = workflows ?? throw WorkflowException.Config("workflows_not_configured", "This host runs no sub-workflows (no workflow catalog).");
        var child = children.Find(name) ?? throw WorkflowException.Config("unknown_workflow", $"Tool \"{Definition.Name}\": there is no workflow \"{name}\".");
        if (WorkflowWalker.Walk(child).Any(l => l.Step.Type is StepTypes.Agent or StepTypes.Sleep or StepTypes.WaitForEvent or StepTypes.Approval))
        {
            throw WorkflowException.Config("unsupported_sub_workflow", $"Workflow \"{name}\" has an agent or a waiting step; a tool's sub-workflow runs to its end without either.");
        }

        var input = Definition.Spec["input"] is { } template ? ValueResolver.Resolve(template, invocation.Scope) : invocation.Arguments.DeepClone();
        if (child.InputSchema is { } schema && InputSchemaValidator.Validate(schema, input) is { Count: > 0 } problems)
        {
            return new JsonObject { ["workflow"] = name, ["status"] = "refused", ["error"] = new JsonObject { ["type"] = "invalid_input", ["message"] = string.Join(" ", problems.Select(p => $"{p.Path}: {p.Message}")) } };
        }

        var run = parent.Run;
        var checkpoints = store.ChildCheckpoints(run.RunId, invocation.IdempotencyKey, parent.Step.Id, run.Workflow.Name);
        var result = await children.RunAsync(child, input, new WorkflowRunOptions
        {
            RunId = ChildRunId(invocation.IdempotencyKey),
            Checkpoints = checkpoints,
            // The child's events never reach the job's sink (its steps are not job steps); a durable checkpoint store
            // takes its paid calls and writes their usage rows with the child steps' checkpoints.
            Progress = checkpoints as IProgressSink,
            Context = run.Context,
            Prompts = run.Prompts,
            Prices = run.Prices,
            TenantId = run.TenantId,
            UserId = run.UserId,
            ServiceTier = run.ServiceTier,
            Priority = run.Priority,
            MaxCostUsd = run.Usage.MaxCostUsd is { } max ? Math.Max(0m, max - (run.Usage.CostUsd ?? 0m)) : null,
        }, cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        CountUsage(result);
        return result.Status == WorkflowRunStatus.Completed
            ? new JsonObject { ["workflow"] = name, ["status"] = "completed", ["output"] = result.Output?.DeepClone() }
            : new JsonObject
            {
                ["workflow"] = name,
                ["status"] = result.Status.ToString().ToLowerInvariant(),
                ["error"] = new JsonObject { ["type"] = result.Error?.Type, ["message"] = result.Error?.Message },
            };
    }

    /// <summary>A GUID-shaped id, the same for every attempt of one call: the child's spans and events group under it.</summary>
    private static string ChildRunId(string idempotencyKey) => new Guid(SHA256.HashData(Encoding.UTF8.GetBytes("child\n" + idempotencyKey)).AsSpan(0, 16)).ToString();

    /// <summary>The child's LLM calls count in the agent step's usage and the job's, per model.</summary>
    private void CountUsage(WorkflowRunResult result)
    {
        foreach (var model in result.Models)
        {
            var call = new LlmCallResult
            {
                Text = string.Empty,
                Provider = model.Provider,
                Model = model.Model,
                InputTokens = model.InputTokens,
                OutputTokens = model.OutputTokens,
                CostUsd = model.CostUsd,
            };
            parent.LlmUsage.Add(call);
            parent.Run.Usage.Add(call);
        }
    }
}
