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
using LlmWorkflow.Engine.Templates;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// <c>llm</c>: renders the prompt (inline, file or messages) with the resolved <c>variables</c> (default: the
/// workflow input), checks the budget, calls the gateway and shapes the answer as
/// <c>{text, json?, model, provider, usage:{input_tokens, output_tokens, total_tokens, cost_usd, estimated}, cache_hit}</c>.
/// Prompt-file front matter supplies model, max_tokens and temperature when the config omits them.
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
        var step = context.Step;
        var config = WithInlineExpressions(StepConfigReader.Read(step, DefinitionJsonContext.Default.LlmStepConfig), context.Scope);
        var variables = ValueResolver.Resolve(config.Variables, context.Scope) ?? context.Scope.Input;
        context.Input = variables?.DeepClone();
        var prompt = LlmPromptRenderer.Render(config, context.Run.Prompts ?? prompts, variables);
        context.RenderedPrompt = string.Join("\n\n", prompt.Messages.Select(m => $"[{m.Role.Value}]\n{m.Text}"));
        var models = config.Model.Count > 0 ? config.Model
            : prompt.FrontMatter.Model is { } fromFile ? [fromFile]
            : throw WorkflowException.Config("missing_model", $"llm step \"{step.Id}\" names no model.");
        var maxTokens = config.MaxTokens ?? prompt.FrontMatter.MaxTokens;

        var remaining = await RemainingForecastAsync(context);
        var reserved = Reserve(context, models, prompt.Messages, maxTokens, remaining);
        SpendReservation? spend;
        try
        {
            spend = await StepSpend.ReserveAsync(context, models, prompt.Messages, maxTokens, prices, remaining, cancellationToken);
        }
        catch
        {
            ReleaseJobBudget(context, reserved);
            throw;
        }

        models = spend?.Models ?? models;
        var deltas = config.Stream ? Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true }) : null;
        var pump = deltas is null ? Task.CompletedTask : PublishDeltasAsync(context, deltas.Reader, cancellationToken);
        // Created only when an answer is refused (rare): an empty queue per call cost a segment of 32 slots.
        System.Collections.Concurrent.ConcurrentQueue<LlmCallResult>? refused = null;
        LlmCallResult? result = null;
        try
        {
            result = await gateway.CompleteAsync(
                new LlmCallRequest(
                    models,
                    prompt.Messages,
                    config.Temperature ?? prompt.FrontMatter.Temperature,
                    maxTokens,
                    JsonResponse: config.ResponseFormat == LlmResponseFormat.Json,
                    Stream: config.Stream,
                    OnDelta: deltas is null ? null : text => deltas.Writer.TryWrite(text),
                    CacheTtl: config.CacheTtlSeconds is { } ttl ? TimeSpan.FromSeconds(ttl) : null,
                    WorkflowName: context.Run.Workflow.Name,
                    StepId: step.Id,
                    OnRefusedAnswer: call => LazyInitializer.EnsureInitialized(ref refused).Enqueue(call),
                    Prices: context.Run.Prices,
                    TenantId: context.Run.TenantId,
                    UserId: context.Run.UserId,
                    ServiceTier: context.Run.ServiceTier is { } tier && context.Frame.Branch is not null ? tier with { BesideOthers = true } : context.Run.ServiceTier,
                    Batch: ResumedBatch(context)),
                cancellationToken);
        }
        catch (BatchPendingException pending)
        {
            // The batch runs at the provider: the job parks (no worker slot) with the batch recorded, and looks again then.
            throw new RunParkedException(new RunWait(step.Id, context.StepKey, BatchWaitKind, pending.Until, Batch: pending.State.ToJson()));
        }
        catch (AdmissionDeferredException deferred)
        {
            // Not a failure: the job parks (no worker slot) and this step runs again when the budget fits.
            throw new RunParkedException(new RunWait(step.Id, context.StepKey, BudgetWaitKind, deferred.Until,
                Budget: new JsonObject { ["scope"] = deferred.Scope, ["reason"] = deferred.Reason, ["provider"] = deferred.Provider }));
        }
        finally
        {
            deltas?.Writer.TryComplete();
            await pump;
            ReleaseJobBudget(context, reserved);
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

        await RecordAsync(context, result, cancellationToken);
        var output = Shape(result, config);
        if (spend?.DowngradedFrom is { } original)
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

    private static JsonObject Shape(LlmCallResult result, LlmStepConfig config)
    {
        var output = new JsonObject { ["text"] = result.Text };
        if (config.ResponseFormat == LlmResponseFormat.Json)
        {
            var json = ParseJson(result.Text);
            CheckRequiredKeys(json, config.JsonSchema);
            output["json"] = json;
        }

        output["model"] = result.Model;
        output["provider"] = result.Provider;
        output["usage"] = new JsonObject
        {
            ["input_tokens"] = result.InputTokens,
            ["output_tokens"] = result.OutputTokens,
            ["total_tokens"] = result.TotalTokens,
            ["cost_usd"] = result.CostUsd,
            ["estimated"] = result.UsageEstimated,
            ["duration_ms"] = Math.Round(result.DurationMs, 1),
        };
        if (result.RequestedServiceTier is { } requested)
        {
            AddTier(output["usage"]!.AsObject(), result, requested);
        }

        output["cache_hit"] = result.CacheHit;
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

    /// <summary>Parses a JSON answer, tolerating the ```json fences models like to add.</summary>
    private static JsonNode? ParseJson(string text)
    {
        var body = text.Trim();
        if (body.StartsWith("```", StringComparison.Ordinal))
        {
            var firstLineEnd = body.IndexOf('\n', StringComparison.Ordinal);
            var closing = body.LastIndexOf("```", StringComparison.Ordinal);
            body = firstLineEnd > 0 && closing > firstLineEnd ? body[(firstLineEnd + 1)..closing] : body.Trim('`');
        }

        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException ex)
        {
            throw WorkflowException.External("json_parse_error", $"The model's answer is not valid JSON: {ex.Message}", retryable: true);
        }
    }

    private static void CheckRequiredKeys(JsonNode? json, JsonObject? schema)
    {
        if (schema?["required"] is not JsonArray required)
        {
            return;
        }

        var missing = required.Select(key => key?.GetValue<string>()).OfType<string>()
            .Where(key => json is not JsonObject obj || !obj.ContainsKey(key)).ToList();
        if (missing.Count > 0)
        {
            throw WorkflowException.External("json_schema_mismatch", $"The model's JSON answer lacks required keys: {string.Join(", ", missing)}.", retryable: true);
        }
    }
}
