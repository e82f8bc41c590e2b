using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm.Admission;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Service tiers (docs/ADMISSION.md, "Service tiers"): a flex job's call is sent with <c>service_tier: "flex"</c> to a
/// provider that offers it. Flex's "429 resource unavailable" is the provider's capacity, not the key's rate limit, so
/// it neither shrinks the admission budget nor is retried as one: the call falls back to standard at once (no
/// deadline), or is asked again with backoff — in the worker, then parked — while the deadline leaves room.
/// A fallback is a new call only after flex refused, so nothing is paid twice.
/// </summary>
public sealed partial class LlmGateway
{
    /// <summary>The error type of a flex call refused for capacity (OpenAI's 429 resource unavailable).</summary>
    public const string FlexUnavailableType = "flex_unavailable";

    /// <summary>The admission deferral reason of a job parked between flex retries.</summary>
    public const string FlexParkReason = "flex_unavailable";

    /// <summary>429 codes that mean the key's own limits: admission's business, never a flex refusal.</summary>
    private static readonly HashSet<string> KeyLimitCodes = new(StringComparer.OrdinalIgnoreCase) { "rate_limit_exceeded", "insufficient_quota" };

    private bool SendsFlex(ModelId model, LlmCallRequest request) =>
        request.ServiceTier is { IsFlex: true } && _providers.Find(model.Provider) is { SupportsFlex: true };

    /// <summary>The call at the job's tier: flex where offered, with its retries and its fallback to standard.</summary>
    /// <param name="enterFirst">The first call's first attempt asks the outage breaker; a fallback's is not asked again (<c>.Outage.cs</c>).</param>
    private async Task<(ChatResponse Response, bool SentFlex)> CallAtTierAsync(
        IChatClient client, ModelId model, LlmCallRequest request, ChatOptions options, bool enterFirst, CancellationToken cancellationToken)
    {
        var flex = SendsFlex(model, request);
        if (!flex && request.ServiceTier is { IsFlex: true })
        {
            LogFlexNotOffered(model.ToString());
        }

        for (var retries = 0; ; retries++)
        {
            try
            {
                return (await CallOnceAsync(client, model, request, options, flex, enterFirst && retries == 0, cancellationToken).ConfigureAwait(false), flex);
            }
            catch (WorkflowException refused) when (flex && IsFlexNotOffered(refused))
            {
                // Flex is in beta for some models only; another model's flex request is a 400 and is not billed.
                LogFlexNotOffered(model.ToString());
                flex = false;
            }
            catch (WorkflowException refused) when (flex && refused.Error.Type == FlexUnavailableType)
            {
                var decision = FlexRetryPolicy.Decide(request.ServiceTier!.Deadline, _time.GetUtcNow(), retries, _providers.Options.Flex);
                Telemetry.FlexRefusals.Add(1, new KeyValuePair<string, object?>("llmworkflow.flex.action", decision.Action.ToString().ToLowerInvariant()));
                switch (decision.Action)
                {
                    case FlexAction.Retry:
                        LogFlexRetry(model.ToString(), decision.Delay.TotalSeconds);
                        await Task.Delay(decision.Delay, _time, cancellationToken).ConfigureAwait(false);
                        break;
                    case FlexAction.Park:
                        // The refused call used no tokens; the job waits parked (no slot) and asks flex again then.
                        throw new AdmissionDeferredException(model.ToString(), FlexParkReason, decision.Until) { Provider = model.Provider };
                    default:
                        LogFlexFallBack(model.ToString());
                        flex = false;
                        break;
                }
            }
        }
    }

    /// <summary>One flex attempt: a flex refusal is flex's capacity, which the tier's own rules handle.</summary>
    private async ValueTask<ChatResponse> InvokeFlexAsync(
        IChatClient client, ModelId model, LlmCallRequest request, ChatOptions options, CancellationToken cancellationToken)
    {
        try
        {
            return await InvokeOnceAsync(client, model, request, options, cancellationToken).ConfigureAwait(false);
        }
        catch (WorkflowException failure) when (IsFlexRefusal(failure))
        {
            // Flex capacity, not the key's limit: the budget stays as it is, and the tier's own rules decide what next.
            throw FlexUnavailable(model, failure);
        }
    }

    private static ChatOptions WithFlex(ChatOptions options)
    {
        var copy = options.Clone();
        ServiceTiers.Request(copy, ServiceTiers.Flex);
        return copy;
    }

    /// <summary>A 429 to a flex request that is not one of the key's limits: flex has no capacity now.</summary>
    internal static bool IsFlexRefusal(WorkflowException failure) =>
        failure.Error is { Type: "rate_limited", Details: { } details }
        && details["http_status"]?.GetValue<int>() == 429
        && !(details["provider_code"]?.GetValue<string>() is { } code && KeyLimitCodes.Contains(code));

    /// <summary>
    /// A 400 to a flex request that names <c>service_tier</c> (or flex): this model has no flex tier (OpenAI and Azure refuse
    /// such a request rather than serve it at standard), so the call is sent again at standard.
    /// </summary>
    private static bool IsFlexNotOffered(WorkflowException failure) =>
        failure.Error.Details?["http_status"]?.GetValue<int>() == 400
        && (failure.Error.Message.Contains("service_tier", StringComparison.OrdinalIgnoreCase)
            || failure.Error.Message.Contains("flex", StringComparison.OrdinalIgnoreCase));

    private static WorkflowException FlexUnavailable(ModelId model, WorkflowException refused) =>
        new(WorkflowException.External(FlexUnavailableType, $"{model.Provider} has no flex capacity for {model} now: {refused.Error.Message}", retryable: false).Error with
        {
            Details = refused.Error.Details?.DeepClone().AsObject() ?? new JsonObject(),
        }, refused);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Model} offers no flex tier; the flex job's call runs at standard")]
    private partial void LogFlexNotOffered(string model);

    [LoggerMessage(Level = LogLevel.Information, Message = "Flex refused {Model} (resource unavailable); asking again in {DelaySeconds} s")]
    private partial void LogFlexRetry(string model, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Flex refused {Model} (resource unavailable) and the job cannot wait longer; the call is sent at standard")]
    private partial void LogFlexFallBack(string model);
}
