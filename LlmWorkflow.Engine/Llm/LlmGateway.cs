using System.Diagnostics;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm.Admission;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// The engine's way to call LLMs: walks the fallback chain, retries each model on retryable failures (Polly, with
/// the provider's Retry-After), streams deltas, prices the answer and serves exact repeats from the response cache.
/// </summary>
public sealed partial class LlmGateway : ILlmGateway
{
    private readonly LlmProviderRegistry _providers;
    private readonly IPriceTable _prices;
    private readonly IResponseCache _cache;
    private readonly ILogger<LlmGateway> _logger;
    private readonly ResiliencePipeline _resilience;
    private readonly ResiliencePipeline _flexResilience;
    private readonly TimeProvider _time = TimeProvider.System;
    private readonly ProviderHealthTracker? _health;
    private readonly ProviderOutageBreaker? _outage;

    /// <param name="health">Told of every HTTP attempt's outcome, for the operators' provider health view (hosts register one).</param>
    /// <param name="outage">Parks the steps of a provider that is out (5xx, timeouts); without one outages fail over and retry as before.</param>
    /// <remarks>Budgets are not the gateway's: admission wraps the provider clients as middleware (<c>AdmissionChatClient</c>).</remarks>
    public LlmGateway(LlmProviderRegistry providers, IPriceTable prices, IResponseCache cache, ILogger<LlmGateway> logger,
        ProviderHealthTracker? health = null, ProviderOutageBreaker? outage = null)
    {
        _outage = outage;
        _health = health;
        _providers = providers;
        _prices = prices;
        _cache = cache;
        _logger = logger;
        _resilience = BuildResilience(providers.Options, providers.Options.AttemptTimeout);
        _flexResilience = BuildResilience(providers.Options, providers.Options.Flex.AttemptTimeout);
    }

    public async Task<LlmCallResult> CompleteAsync(LlmCallRequest request, CancellationToken cancellationToken)
    {
        if (request.Models.Count == 0)
        {
            throw WorkflowException.Config("missing_model", "The llm step names no model.", "Set config.model to a provider/model id, e.g. mock/echo.");
        }

        var started = Stopwatch.GetTimestamp();
        var promptHash = PromptHasher.Hash(request.Messages);
        var attempts = new List<ModelAttempt>(request.Models.Count);
        WorkflowException? lastFailure = null;
        AdmissionDeferredException? outage = null;
        // A step resumed on its batch starts at the batch's model (.Batches.cs).
        foreach (var id in request.Batch is null ? request.Models : ModelsToTry(request))
        {
            var modelStarted = Stopwatch.GetTimestamp();
            try
            {
                var result = await CallModelAsync(ModelId.Parse(id), request, promptHash, cancellationToken).ConfigureAwait(false);
                attempts.Add(new ModelAttempt(id, null, Stopwatch.GetElapsedTime(modelStarted).TotalMilliseconds));
                return result with { Attempts = attempts, DurationMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds, PromptHash = promptHash };
            }
            catch (AdmissionDeferredException deferred) when (deferred.Reason == ProviderOutageBreaker.Reason)
            {
                // The provider is out: the next model of the fallback chain answers if it can; else the step parks.
                attempts.Add(new ModelAttempt(id, $"{deferred.Reason}: {deferred.Message}", Stopwatch.GetElapsedTime(modelStarted).TotalMilliseconds));
                outage ??= deferred;
            }
            catch (WorkflowException failure)
            {
                // The next model of the chain is tried (.Failures.cs).
                lastFailure = ModelFailed(id, request, failure, promptHash, Stopwatch.GetElapsedTime(modelStarted).TotalMilliseconds, attempts);
            }
        }

        throw outage ?? (Exception)ChainFailed(lastFailure!, attempts);
    }

    /// <summary>
    /// One model of the chain, in a client span named and tagged by the OpenTelemetry GenAI conventions (the HTTP
    /// call to the provider, retries included, is its child); answered calls add to the token and cost metrics.
    /// </summary>
    private async Task<LlmCallResult> CallModelAsync(ModelId requested, LlmCallRequest request, string promptHash, CancellationToken cancellationToken)
    {
        // With Llm:Mock:ServeAllModels the mock answers everything and the result says so: mock/<requested id>.
        var model = _providers.Options.Mock.ServeAllModels && requested.Provider != "mock" ? new ModelId("mock", requested.ToString()) : requested;
        using var span = Telemetry.ActivitySource.StartActivity("chat " + model.Model, ActivityKind.Client);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("gen_ai.operation.name", "chat");
            span.SetTag("gen_ai.provider.name", model.Provider);
            span.SetTag("gen_ai.request.model", model.Model);
            span.SetTag("gen_ai.request.temperature", request.Temperature);
            span.SetTag("gen_ai.request.max_tokens", request.MaxTokens);
            span.SetTag("llmworkflow.step.id", request.StepId);
        }

        var capture = _providers.Options.Telemetry.CaptureMessages && span is { IsAllDataRequested: true };
        if (capture)
        {
            span!.SetTag(GenAiMessages.InputAttribute, GenAiMessages.Input(request.Messages));
        }

        try
        {
            var result = await CallModelCoreAsync(model, request, promptHash, cancellationToken).ConfigureAwait(false);
            Record(span, result);
            if (capture)
            {
                span!.SetTag(GenAiMessages.OutputAttribute, GenAiMessages.Output(result.Text));
            }

            return result;
        }
        catch (WorkflowException failure)
        {
            span.RecordFailure(failure.Error.Type, failure.Error.Message, failure);
            throw;
        }
    }

    private static void Record(Activity? span, LlmCallResult result)
    {
        var model = ModelId.TryParse(result.Model, out var id) ? id.Model : result.Model;
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("gen_ai.response.model", model);
            span.SetTag("gen_ai.usage.input_tokens", result.InputTokens);
            span.SetTag("gen_ai.usage.output_tokens", result.OutputTokens);
            span.SetTag("llmworkflow.cache_hit", result.CacheHit);
            if (result.CostUsd is { } cost)
            {
                span.SetTag(Telemetry.CostAttribute, (double)cost);
            }
        }

        if (result.CacheHit)
        {
            return; // nothing was consumed
        }

        KeyValuePair<string, object?> provider = new("gen_ai.provider.name", result.Provider), requestModel = new("gen_ai.request.model", model);
        Telemetry.LlmTokens.Add(result.InputTokens, provider, requestModel, new("gen_ai.token.type", "input"));
        Telemetry.LlmTokens.Add(result.OutputTokens, provider, requestModel, new("gen_ai.token.type", "output"));
        if (result.CostUsd is { } usd)
        {
            Telemetry.LlmCost.Add((double)usd, provider, requestModel);
        }
    }

    private async Task<LlmCallResult> CallModelCoreAsync(ModelId model, LlmCallRequest request, string promptHash, CancellationToken cancellationToken)
    {
        var client = _providers.GetClient(model);
        var options = ChatOptionsFor(model, request);
        // The provider client's middleware (admission, when the host adds it) reads the call it serves from here.
        LlmCallRequest.Current = request;
        return request.CacheTtl is null
            ? await CallUncachedAsync(client, model, request, options, cancellationToken).ConfigureAwait(false)
            : await CallCachedAsync(client, model, request, options, promptHash, cancellationToken).ConfigureAwait(false);
    }

    private Task<LlmCallResult> CallUncachedAsync(IChatClient client, ModelId model, LlmCallRequest request, ChatOptions options, CancellationToken cancellationToken) =>
        // A batch job's call goes to the provider's Batch API where it has one (.Batches.cs).
        request.ServiceTier is { IsBatch: true } && BatchProtocol(model, request) is { } batches
            ? CallInBatchAsync(batches, model, request, () => CallProviderAsync(client, model, request, options, cancellationToken), cancellationToken)
            : CallProviderAsync(client, model, request, options, cancellationToken);

    /// <summary>The call at the job's tier (a flex job's: <c>.Tiers.cs</c>), after the provider's outage breaker (<c>.Outage.cs</c>).</summary>
    private async Task<LlmCallResult> CallProviderAsync(IChatClient client, ModelId model, LlmCallRequest request, ChatOptions options, CancellationToken cancellationToken)
    {
        var flexJob = request.ServiceTier is { IsFlex: true };
        // Where admission's middleware does the breaker's work, its reservation asks the breaker for the first attempt.
        var folded = FoldsBreaker(client);
        if (!folded)
        {
            await ThrowIfOutAsync(model, flexJob && SendsFlex(model, request)).ConfigureAwait(false);
        }

        ChatResponse response;
        bool sentFlex;
        var repairs = new AnswerRepairs();
        AnswerGuard.Current = repairs;
        try
        {
            (response, sentFlex) = flexJob
                ? await CallAtTierAsync(client, model, request, options, folded, cancellationToken).ConfigureAwait(false)
                : (await CallOnceAsync(client, model, request, options, flex: false, enterFirst: folded, cancellationToken).ConfigureAwait(false), false);
        }
        catch (TimeoutRejectedException timeout)
        {
            var classified = LlmErrorClassifier.Classify(timeout, model, _providers.Find(model.Provider));
            _health?.Failed(model, classified.Error);
            throw await OutageOrAsync(model, classified).ConfigureAwait(false);
        }

        return Price(model, request, response, sentFlex ? ServiceTiers.Flex : ServiceTiers.Standard) with { InvalidUtf8Replaced = repairs.Replaced };
    }

    /// <summary>One call (with the retries of its tier's pipeline): flex attempts get flex's longer timeout.</summary>
    /// <param name="enterFirst">The first attempt asks the outage breaker (in admission's reservation, <c>.Outage.cs</c>).</param>
    private async Task<ChatResponse> CallOnceAsync(
        IChatClient client, ModelId model, LlmCallRequest request, ChatOptions options, bool flex, bool enterFirst, CancellationToken cancellationToken)
    {
        var tierOptions = flex ? WithFlex(options) : options;
        var attempts = 0;
        return await (flex ? _flexResilience : _resilience).ExecuteAsync(
            async token =>
            {
                // The first attempt passed the breaker before it (or asks it in admission's reservation); a retry asks it again.
                var enter = attempts++ > 0 || enterFirst;
                var answer = await InvokeWatchedAsync(client, model, request, tierOptions, flex, enter, token, cancellationToken).ConfigureAwait(false);
                _health?.Answered(model);
                return answer;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One attempt; a flex one under its tier's rules (<c>.Tiers.cs</c>).</summary>
    private ValueTask<ChatResponse> InvokeAsync(
        IChatClient client, ModelId model, LlmCallRequest request, ChatOptions options, bool flex, CancellationToken cancellationToken) =>
        flex ? InvokeFlexAsync(client, model, request, options, cancellationToken) : InvokeOnceAsync(client, model, request, options, cancellationToken);

    /// <summary>One HTTP attempt; failures leave here classified so the retry strategy can tell retryable ones.</summary>
    private async ValueTask<ChatResponse> InvokeOnceAsync(
        IChatClient client, ModelId model, LlmCallRequest request, ChatOptions options, CancellationToken cancellationToken)
    {
        var deltas = 0;
        AnswerGuard.Current?.Reset();
        try
        {
            if (!request.Stream)
            {
                return await client.GetResponseAsync(request.Messages, options, cancellationToken).ConfigureAwait(false);
            }

            List<ChatResponseUpdate> updates = [];
            await foreach (var update in client.GetStreamingResponseAsync(request.Messages, options, cancellationToken).ConfigureAwait(false))
            {
                updates.Add(update);
                if (update.Text is { Length: > 0 } text)
                {
                    deltas++;
                    request.OnDelta?.Invoke(text);
                }
            }

            var response = updates.ToChatResponse();
            // What the provider says it billed (its cost, the tier that served) rides on the chunks: keep it on the answer.
            foreach (var property in updates.SelectMany(u => u.AdditionalProperties ?? []))
            {
                (response.AdditionalProperties ??= [])[property.Key] = property.Value;
            }

            return response;
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested && exception is not AdmissionDeferredException)
        {
            var classified = LlmErrorClassifier.Classify(exception, model, _providers.Find(model.Provider));
            _health?.Failed(model, classified.Error);
            // Once text has reached the listener a retry would repeat it; fail over instead.
            return deltas > 0 && classified.Error.Retryable
                ? throw new WorkflowException(classified.Error with { Retryable = false, Type = "stream_interrupted" }, exception)
                : throw classified;
        }
    }

    private LlmCallResult Price(ModelId model, LlmCallRequest request, ChatResponse response, string sentTier)
    {
        var text = response.Text;
        var usage = response.Usage;
        var estimated = usage?.InputTokenCount is null || usage.OutputTokenCount is null;
        var input = (int)(usage?.InputTokenCount ?? TokenEstimator.Estimate(request.Messages));
        var output = (int)(usage?.OutputTokenCount ?? TokenEstimator.Estimate(text));
        var (cost, list, tier) = PriceAtTier(model, request, response, input, output, sentTier);
        return new LlmCallResult
        {
            Text = text,
            Provider = model.Provider,
            Model = model.ToString(),
            InputTokens = input,
            OutputTokens = output,
            UsageEstimated = estimated,
            CostUsd = cost,
            CostSource = ProviderCost.Get(response.AdditionalProperties) is not null ? CostSources.Provider : cost is not null ? CostSources.PriceTable : null,
            ServiceTier = tier,
            RequestedServiceTier = request.ServiceTier is { Tier: not ServiceTiers.Standard } asked ? asked.Tier : null,
            ListCostUsd = list,
        };
    }

    /// <summary>Prices the answer at the tier that served it (the answer's <c>service_tier</c> when it says).</summary>
    private (decimal? Billed, decimal? List, string Tier) PriceAtTier(ModelId model, LlmCallRequest request, ChatResponse response, int input, int output, string sentTier)
    {
        // A batch's answer is billed at the batch rate whatever its body says (OpenAI's batch output says "default").
        var tier = sentTier == ServiceTiers.Batch ? ServiceTiers.Batch : ServiceTiers.Used(sentTier == ServiceTiers.Flex, ServiceTiers.Answered(response.AdditionalProperties));
        if (ProviderCost.Get(response.AdditionalProperties) is { } reported)
        {
            // The provider billed it itself: that is the price, whatever the tier.
            var cost = Math.Round(reported, 6, MidpointRounding.AwayFromZero);
            return (cost, cost, tier);
        }

        var list = (request.Prices ?? _prices).Cost(model.ToString(), input, output, (int)(response.Usage?.CachedInputTokenCount ?? 0));
        return (tier == ServiceTiers.Batch ? Costs.TierPricing.Discounted(list, _providers.Options.Batch.PriceMultiplier) : Costs.TierPricing.Billed(list, tier, _providers.Options.Flex.PriceMultiplier),
            list, tier);
    }

    private static ChatOptions ChatOptionsFor(ModelId model, LlmCallRequest request)
    {
        var options = new ChatOptions
        {
            ModelId = model.Model,
            Temperature = request.Temperature,
            MaxOutputTokens = request.MaxTokens,
            ResponseFormat = request.ResponseFormat ?? (request.JsonResponse ? ChatResponseFormat.Json : null),
        };
        if (model.Provider == "mock")
        {
            options.AdditionalProperties = new()
            {
                [MockChatClient.WorkflowProperty] = request.WorkflowName,
                [MockChatClient.StepProperty] = request.StepId,
            };
        }

        return options;
    }

    private static ResiliencePipeline BuildResilience(LlmOptions options, TimeSpan attemptTimeout)
    {
        var builder = new ResiliencePipelineBuilder();
        // MaxAttempts = 1 means no retries (Polly rejects a retry strategy with zero retries).
        if (options.Retry.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.Retry.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                Delay = options.Retry.BaseDelay,
                MaxDelay = options.Retry.MaxDelay,
                UseJitter = options.Retry.UseJitter,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception switch
                {
                    TimeoutRejectedException => true,
                    WorkflowException { Error: { Retryable: true, RetryAfterSeconds: var wait } } =>
                        wait is null || TimeSpan.FromSeconds(wait.Value) <= options.Retry.MaxRetryAfter,
                    _ => false,
                }),
                // The provider's Retry-After wins over our backoff; null falls back to exponential backoff with jitter.
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is WorkflowException { Error.RetryAfterSeconds: { } seconds }
                    ? TimeSpan.FromSeconds(seconds)
                    : (TimeSpan?)null),
            });
        }

        return builder.AddTimeout(attemptTimeout).Build();
    }
}
