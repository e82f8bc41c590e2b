using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Llm.Batches;
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
internal sealed class LlmStepHandler(ILlmGateway? llm, PromptLibrary? prompts, IPriceTable? prices) : IStepHandler
{
    /// <summary>The kind of wait of a step whose LLM call waits for a provider budget (docs/ADMISSION.md).</summary>
    public const string BudgetWaitKind = "budget";

    /// <summary>The kind of wait of a batch job's step whose call runs as a provider batch (docs/ADMISSION.md, "Batch").</summary>
    public const string BatchWaitKind = "batch";

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
    /// One paid call of the step: reserves its worst case against the job's and the tenant's budgets, calls the gateway
    /// (parking the job on a provider budget or batch), settles and records what it cost.
    /// </summary>
    private async Task<(LlmCallResult Result, string? DowngradedFrom)> CallAsync(
        StepContext context, ILlmGateway gateway, LlmStepPlan plan, IReadOnlyList<ChatMessage> messages, decimal? remaining, CancellationToken cancellationToken)
    {
        var reserved = Reserve(context, plan.Models, messages, plan.MaxTokens, remaining);
        SpendReservation? spend;
        try
        {
            spend = await StepSpend.ReserveAsync(context, plan.Models, messages, plan.MaxTokens, prices, remaining, cancellationToken);
        }
        catch
        {
            ReleaseJobBudget(context, reserved);
            throw;
        }

        var deltas = plan.Config.Stream ? Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true }) : null;
        var pump = deltas is null ? Task.CompletedTask : PublishDeltasAsync(context, deltas.Reader, cancellationToken);
        // Created only when an answer is refused (rare): an empty queue per call cost a segment of 32 slots.
        System.Collections.Concurrent.ConcurrentQueue<LlmCallResult>? refused = null;
        LlmCallResult? result = null;
        try
        {
            var request = Request(context, plan, messages, spend?.Models ?? plan.Models, deltas?.Writer, call => LazyInitializer.EnsureInitialized(ref refused).Enqueue(call));
            result = await gateway.CompleteAsync(request, cancellationToken);
        }
        catch (BatchPendingException pending)
        {
            // The batch runs at the provider: the job parks (no worker slot) with the batch recorded, and looks again then.
            throw new RunParkedException(new RunWait(context.Step.Id, context.StepKey, BatchWaitKind, pending.Until, Batch: pending.State.ToJson()));
        }
        catch (AdmissionDeferredException deferred)
        {
            // Not a failure: the job parks (no worker slot) and this step runs again when the budget fits.
            throw new RunParkedException(new RunWait(context.Step.Id, context.StepKey, BudgetWaitKind, deferred.Until,
                Budget: new JsonObject { ["scope"] = deferred.Scope, ["reason"] = deferred.Reason, ["provider"] = deferred.Provider }));
        }
        finally
        {
            deltas?.Writer.TryComplete();
            await pump;
            ReleaseJobBudget(context, reserved);
            await SettleAsync(context, spend, result, refused, cancellationToken);
        }

        await RecordAsync(context, result, cancellationToken);
        return (result, spend?.DowngradedFrom);
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
            ServiceTier: context.Run.ServiceTier is { } tier && context.Frame.Branch is not null ? tier with { BesideOthers = true } : context.Run.ServiceTier,
            Batch: ResumedBatch(context),
            ResponseFormat: plan.Format);

    /// <summary>Settles the tenant reservation at what was paid and records answers refused for their size (paid too).</summary>
    private static async Task SettleAsync(
        StepContext context, SpendReservation? spend, LlmCallResult? result, System.Collections.Concurrent.ConcurrentQueue<LlmCallResult>? refused, CancellationToken cancellationToken)
    {
        if (spend is not null)
        {
            // What the calls cost (a cache hit, a deferral or a failure cost nothing; a refused answer was paid).
            await spend.SettleAsync((result?.CostUsd ?? 0m) + (refused?.Sum(c => c.CostUsd ?? 0m) ?? 0m));
        }

        // Answers refused for their size were paid for: recorded like any answered call, whatever happens next.
        if (refused is not null)
        {
            foreach (var call in refused)
            {
                await RecordAsync(context, call, cancellationToken);
            }
        }
    }

    /// <summary>The batch this step recorded when it parked (its run resumed from that wait), or null.</summary>
    private static BatchState? ResumedBatch(StepContext context) =>
        context.Run.ResumedWait is { Kind: BatchWaitKind } wait && wait.StepKey == context.StepKey ? BatchState.FromJson(wait.Batch) : null;

    private static void ReleaseJobBudget(StepContext context, decimal? reserved)
    {
        if (reserved is { } amount)
        {
            context.Run.Usage.Release(amount);
        }
    }

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

    /// <summary>
    /// The job's remaining-cost forecast after this step (<see cref="JobCostForecast"/>, built at the run's first paid
    /// step); null when no budget applies to the job (nothing to check it against) or there is no price table.
    /// </summary>
    private async Task<decimal?> RemainingForecastAsync(StepContext context)
    {
        var run = context.Run;
        if ((run.Usage.MaxCostUsd is null && run.SpendBudget is null) || (run.Prices ?? prices) is not { } table)
        {
            return null;
        }

        // Built once for the run and shared by its steps, so not tied to one step's cancellation.
        var forecast = await run.CostForecast(() => BuildForecastAsync(run, table));
        return forecast.RemainingAfter(run.Workflow, context.Step.Id);
    }

    private async Task<JobCostForecast> BuildForecastAsync(RunState run, IPriceTable table)
    {
        try
        {
            var planned = new DryRunPlanner(new WorkflowValidator(), run.Prompts ?? prompts, table).PlanSteps(run.Workflow, run.Input, run.Context);
            return await JobCostForecast.BuildAsync(run.Workflow.Name, planned, table, run.CostHistory, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A forecast that cannot be made (history unreachable, a plan that does not render) is reported as 0: the
            // step's own check still applies, and a job is never failed for its forecast's sake.
            return new JobCostForecast(new Dictionary<string, decimal>());
        }
    }

    /// <summary>Reserves the call's worst-case cost against the budget; null when there is no budget or no price to check.</summary>
    private decimal? Reserve(StepContext context, IReadOnlyList<string> models, IReadOnlyList<ChatMessage> messages, int? maxTokens, decimal? remaining)
    {
        if (context.Run.Usage.MaxCostUsd is not { } max || (context.Run.Prices ?? prices) is not { } table)
        {
            return null;
        }

        var inputTokens = LlmCostEstimator.EstimateTokens(string.Concat(messages.Select(m => m.Text)));
        if (LlmCostEstimator.MaxCost(table, models, inputTokens, maxTokens ?? LlmCostEstimator.DefaultMaxOutputTokens) is not { } estimate)
        {
            return null;
        }

        var forecast = new StepForecast(estimate, remaining, Llm.Budgets.BudgetCheck.ChecksRemaining(context.Run.Workflow));
        return context.Run.Usage.TryReserve(estimate, forecast.RequiredUsd, out var spent)
            ? estimate
            : throw BudgetGuard.Exceeded(context.Step.Id, spent, forecast, max);
    }

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

    /// <summary>
    /// A job that asked for a tier sees which one served the call, the list price and what the tier saved; a provider
    /// without that tier ran it at standard, and <c>requested_service_tier</c> says what was asked.
    /// </summary>
    private static void AddTier(JsonObject usage, LlmCallResult result, string requested)
    {
        usage["service_tier"] = result.ServiceTier;
        usage["requested_service_tier"] = requested;
        usage["list_cost_usd"] = result.ListCostUsd;
        usage["discount_usd"] = result.DiscountUsd;
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
