using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.StructuredOutput;
using LlmWorkflow.Engine.Templates;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// <c>llm</c>: renders the prompt (inline, file or messages) with the resolved <c>variables</c> (default: the
/// workflow input), checks the budget, calls the gateway and shapes the answer as
/// <c>{text, json?, model, provider, usage:{input_tokens, output_tokens, total_tokens, cost_usd, estimated}, cache_hit}</c>.
/// Prompt-file front matter supplies model, max_tokens and temperature when the config omits them. With
/// <c>response_format: json</c> and a <c>json_schema</c>, the schema is sent to the provider and the answer validated in
/// full; an invalid answer gets one repair turn (docs/STRUCTURED_OUTPUT.md).
/// </summary>
internal sealed partial class LlmStepHandler(ILlmGateway? llm, PromptLibrary? prompts, IPriceTable? prices) : IStepHandler
{
    public bool IsCheckpointed => true;

    public async ValueTask<JsonNode?> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var gateway = llm ?? throw WorkflowException.Config("llm_not_configured", "No LLM gateway is registered.");
        var plan = Prepare(context);
        var remaining = await RemainingForecastAsync(context);
        var (result, downgradedFrom) = await CallAsync(context, gateway, plan, plan.Messages, remaining, cancellationToken);
        List<LlmCallResult> calls = [result];
        JsonNode? json = null;
        if (plan.Config.ResponseFormat == LlmResponseFormat.Json)
        {
            var answer = StructuredAnswer.Check(result.Text, plan.Schema);
            if (!answer.IsValid && plan.Schema is not null)
            {
                // One bounded repair turn: the model sees its answer and each violation (JSON pointer + message), and
                // pays for the turn like any call; still invalid fails the step naming the paths, never a placeholder.
                List<ChatMessage> repair = [.. plan.Messages, new(ChatRole.Assistant, result.Text), new(ChatRole.User, answer.RepairPrompt())];
                (result, _) = await CallAsync(context, gateway, plan, repair, remaining, cancellationToken);
                calls.Add(result);
                answer = StructuredAnswer.Check(result.Text, plan.Schema);
            }

            json = answer.IsValid ? answer.Json : throw (plan.Schema is null ? NotJson(answer) : answer.Failure(context.Step.Id, calls.Count - 1));
        }

        var output = Shape(result, calls, json, plan.Config);
        if (downgradedFrom is { } original)
        {
            // on_budget: downgrade ran the step on the cheaper model; its output says which model it was meant for.
            output["downgraded_from"] = original;
        }

        if (remaining is { } rest)
        {
            // What the llm steps after this one are forecast to cost, as the budget check saw it before the call.
            output["usage"]!["remaining_forecast_usd"] = rest;
        }

        return output;
    }

    /// <summary>What a step without a schema reports for an answer that is not JSON (it gets no repair turn).</summary>
    private static WorkflowException NotJson(StructuredAnswer answer) =>
        WorkflowException.External(StructuredAnswer.ParseErrorType, $"The model's answer is not valid JSON: {answer.Violations[0].Message}", retryable: true);

    /// <summary>The step's config with its expressions resolved, its rendered prompt, models and answer format.</summary>
    private LlmStepPlan Prepare(StepContext context)
    {
        var step = context.Step;
        var config = WithInlineExpressions(StepConfigReader.Read(step, DefinitionJsonContext.Default.LlmStepConfig), context.Scope);
        var variables = ValueResolver.Resolve(config.Variables, context.Scope) ?? context.Scope.Input;
        context.Input = variables?.DeepClone();
        var prompt = LlmPromptRenderer.Render(config, context.Run.Prompts ?? prompts, variables);
        context.RenderedPrompt = string.Join("\n\n", prompt.Messages.Select(m => $"[{m.Role.Value}]\n{m.Text}"));
        var models = config.Model.Count > 0 ? config.Model
            : prompt.FrontMatter.Model is { } fromFile ? [fromFile]
            : throw WorkflowException.Config("missing_model", $"llm step \"{step.Id}\" names no model.");
        var schema = config.ResponseFormat == LlmResponseFormat.Json && config.JsonSchema is { } written
            ? StructuredOutputSchema.Build(written, $"steps.{step.Id}.config.json_schema")
            : null;
        var format = schema is null ? null : ChatResponseFormat.ForJsonSchema(schema.Source, SchemaName(step.Id), $"The answer of step {step.Id}");
        return new LlmStepPlan(config, prompt.Messages, models, config.MaxTokens ?? prompt.FrontMatter.MaxTokens,
            config.Temperature ?? prompt.FrontMatter.Temperature, schema, format);
    }

    /// <summary>OpenAI's schema names are 1-64 of [A-Za-z0-9_-]; a step id may hold other characters.</summary>
    private static string SchemaName(string stepId)
    {
        var name = new string([.. stepId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_')]);
        return name.Length is > 0 and <= 64 ? name : name.Length == 0 ? "answer" : name[..64];
    }

    /// <summary>
    /// One paid call of the step: holds its worst case against the job's and the tenant's dollar budgets when it has
    /// them (LlmStepHandler.Budgets.cs), calls the gateway, and records what it cost.
    /// </summary>
    private async Task<(LlmCallResult Result, string? DowngradedFrom)> CallAsync(
        StepContext context, ILlmGateway gateway, LlmStepPlan plan, IReadOnlyList<ChatMessage> messages, decimal? remaining, CancellationToken cancellationToken)
    {
        var budget = await ReserveBudgetsAsync(context, plan, messages, remaining, cancellationToken);
        var deltas = plan.Config.Stream ? Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true }) : null;
        var pump = deltas is null ? Task.CompletedTask : PublishDeltasAsync(context, deltas.Reader, cancellationToken);
        // Created only when an answer is refused (rare): an empty queue per call cost a segment of 32 slots.
        System.Collections.Concurrent.ConcurrentQueue<LlmCallResult>? refused = null;
        LlmCallResult? result = null;
        try
        {
            var request = Request(context, plan, messages, budget.Models ?? plan.Models, deltas?.Writer, call => LazyInitializer.EnsureInitialized(ref refused).Enqueue(call));
            result = await gateway.CompleteAsync(ResumingWait(context, request), cancellationToken);
        }
        catch (Exception waits) when (ParkFor(context, waits) is { } parked)
        {
            // Not a failure: the job parks (no worker slot) and this step runs again when the budget fits or the batch is done.
            throw parked;
        }
        finally
        {
            deltas?.Writer.TryComplete();
            await pump;
            await budget.SettleAsync(context, (result?.CostUsd ?? 0m) + (refused?.Sum(c => c.CostUsd ?? 0m) ?? 0m));
            // Answers refused for their size were paid for: recorded like any answered call, whatever happens next.
            foreach (var call in refused ?? [])
            {
                await RecordAsync(context, call, cancellationToken);
            }
        }

        await RecordAsync(context, result, cancellationToken);
        return (result, budget.DowngradedFrom);
    }

    private static LlmCallRequest Request(
        StepContext context, LlmStepPlan plan, IReadOnlyList<ChatMessage> messages, IReadOnlyList<string> models, ChannelWriter<string>? deltas, Action<LlmCallResult> onRefused) =>
        new(
            models,
            messages,
            plan.Temperature,
            plan.MaxTokens,
            JsonResponse: plan.Config.ResponseFormat == LlmResponseFormat.Json,
            Stream: plan.Config.Stream,
            OnDelta: deltas is null ? null : text => deltas.TryWrite(text),
            CacheTtl: plan.Config.CacheTtlSeconds is { } ttl ? TimeSpan.FromSeconds(ttl) : null,
            WorkflowName: context.Run.Workflow.Name,
            StepId: context.Step.Id,
            OnRefusedAnswer: onRefused,
            Prices: context.Run.Prices,
            TenantId: context.Run.TenantId,
            UserId: context.Run.UserId,
            Priority: context.Run.Priority,
            ServiceTier: context.Run.ServiceTier is { } tier && context.Frame.Branch is not null ? tier with { BesideOthers = true } : context.Run.ServiceTier,
            ResponseFormat: plan.Format);

    /// <summary>Counts a paid call against the step and the run, and publishes it (the pipeline writes its usage row).</summary>
    private static async Task RecordAsync(StepContext context, LlmCallResult call, CancellationToken cancellationToken)
    {
        context.LlmUsage.Add(call);
        context.Run.Usage.Add(call);
        await context.Run.Progress.PublishAsync(
            new LlmCallCompleted(context.Run.RunId, context.Run.Now, context.Step.Id, call) { StepKey = context.StepKey }, cancellationToken);
    }

    /// <summary>
    /// Resolves <c>${...}</c> in inline prompt text (prompt, system, messages) like every other config value, before
    /// the <c>{{variable}}</c> templates render; prompt files are templates only.
    /// </summary>
    internal static LlmStepConfig WithInlineExpressions(LlmStepConfig config, ExpressionScope scope) => config with
    {
        Prompt = Resolve(config.Prompt, scope),
        System = Resolve(config.System, scope),
        Messages = config.Messages?.Select(m => m with { Content = Resolve(m.Content, scope)! }).ToList(),
    };

    private static string? Resolve(string? text, ExpressionScope scope) =>
        text is not null && TextTemplate.MayContainExpression(text) ? ValueResolver.ResolveText(text, scope) : text;

    private static async Task PublishDeltasAsync(StepContext context, ChannelReader<string> deltas, CancellationToken cancellationToken)
    {
        await foreach (var text in deltas.ReadAllAsync(cancellationToken))
        {
            await context.Run.Progress.PublishAsync(new LlmDelta(context.Run.RunId, context.Run.Now, context.Step.Id, text), cancellationToken);
        }
    }

    /// <summary>
    /// The step's output from its answering call; with a repair turn, <c>usage</c> sums both calls (both were paid) and
    /// <c>repair_turns</c> says there was one.
    /// </summary>
    private static JsonObject Shape(LlmCallResult result, IReadOnlyList<LlmCallResult> calls, JsonNode? json, LlmStepConfig config)
    {
        var output = new JsonObject { ["text"] = result.Text };
        if (config.ResponseFormat == LlmResponseFormat.Json)
        {
            output["json"] = json;
        }

        output["model"] = result.Model;
        output["provider"] = result.Provider;
        output["usage"] = new JsonObject
        {
            ["input_tokens"] = calls.Sum(c => c.InputTokens),
            ["output_tokens"] = calls.Sum(c => c.OutputTokens),
            ["total_tokens"] = calls.Sum(c => c.TotalTokens),
            ["cost_usd"] = calls.Any(c => c.CostUsd is null) ? null : calls.Sum(c => c.CostUsd!.Value),
            ["estimated"] = calls.Any(c => c.UsageEstimated),
            ["duration_ms"] = Math.Round(calls.Sum(c => c.DurationMs), 1),
        };
        if (result.RequestedServiceTier is { } requested)
        {
            AddTier(output["usage"]!.AsObject(), result, requested);
        }

        output["cache_hit"] = result.CacheHit;
        if (calls.Count > 1)
        {
            output["repair_turns"] = calls.Count - 1;
        }

        return output;
    }

}

/// <summary>An llm step's call as its config and prompt file decide it.</summary>
internal sealed record LlmStepPlan(
    LlmStepConfig Config,
    IReadOnlyList<ChatMessage> Messages,
    IReadOnlyList<string> Models,
    int? MaxTokens,
    float? Temperature,
    StructuredOutputSchema? Schema,
    ChatResponseFormat? Format);
