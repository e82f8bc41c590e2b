using System.Runtime.CompilerServices;
using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// Admission as chat-client middleware (as <c>UseOpenTelemetry</c> is one): each request to a provider reserves its
/// estimate against the shared budgets first, reconciles with the answer's usage and rate-limit headers, and turns a
/// 429 into a deferral — the step parks until the provider's retry-after — instead of a retry. A call that does not
/// fit throws <see cref="AdmissionDeferredException"/> (the step parks, docs/ADMISSION.md). Wrapped around the
/// provider clients only when the admission module is added (<see cref="AdmissionMiddleware"/>); a host without it
/// calls providers directly.
/// </summary>
public sealed class AdmissionChatClient(IChatClient inner, ModelId model, ResolvedProvider? provider, ILlmAdmission admission) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var sent = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var outage = ProviderOutageAttempt.Current;
        await using var lease = await AdmitAsync(sent, outage, cancellationToken).ConfigureAwait(false);
        var headers = new RateLimitCapture();
        RateLimitCapture.Current = headers;
        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(sent, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested && exception is not AdmissionDeferredException)
        {
            throw await RefusedAsync(lease, exception, options, headers).ConfigureAwait(false);
        }

        await lease.ReconcileAnsweredAsync(InputTokens(response.Usage, sent), OutputTokens(response.Usage, response.Text), headers.Last, outage).ConfigureAwait(false);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var sent = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var outage = ProviderOutageAttempt.Current;
        await using var lease = await AdmitAsync(sent, outage, cancellationToken).ConfigureAwait(false);
        var headers = new RateLimitCapture();
        RateLimitCapture.Current = headers;
        List<ChatResponseUpdate> updates = [];
        await using var reader = base.GetStreamingResponseAsync(sent, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await reader.MoveNextAsync().ConfigureAwait(false))
                {
                    break;
                }
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested && exception is not AdmissionDeferredException)
            {
                throw await RefusedAsync(lease, exception, options, headers).ConfigureAwait(false);
            }

            updates.Add(reader.Current);
            yield return reader.Current;
        }

        var answer = updates.ToChatResponse();
        await lease.ReconcileAnsweredAsync(InputTokens(answer.Usage, sent), OutputTokens(answer.Usage, answer.Text), headers.Last, outage).ConfigureAwait(false);
    }

    /// <summary>
    /// The call's reservation, which asks the provider's outage breaker where admission's store does its work; where it
    /// did not (no budget for the call, an unreachable store, another admission), the breaker's own check runs before
    /// the call is sent, holding nothing back that was reserved.
    /// </summary>
    private async Task<AdmissionLease> AdmitAsync(IReadOnlyList<ChatMessage> sent, ProviderOutageAttempt? outage, CancellationToken cancellationToken)
    {
        var lease = await admission.AdmitAsync(model, CallOf(sent), outage, cancellationToken).ConfigureAwait(false);
        if (outage?.PendingEntry is not null)
        {
            try
            {
                await outage.EnterSeparatelyAsync().ConfigureAwait(false);
            }
            catch
            {
                await lease.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        return lease;
    }

    /// <summary>The gateway's call this request belongs to (its tenant, user, step), or one made of the request alone.</summary>
    private LlmCallRequest CallOf(IReadOnlyList<ChatMessage> messages) => LlmCallRequest.Current ?? new LlmCallRequest([model.ToString()], messages);

    /// <summary>
    /// A request that got no answer: a 429 of the key's limits shrinks the budget and defers the call (when the budget
    /// store took it; otherwise the retries handle it, as before admission); anything else used no tokens.
    /// </summary>
    private async Task<Exception> RefusedAsync(AdmissionLease lease, Exception exception, ChatOptions? options, RateLimitCapture headers)
    {
        var failure = LlmErrorClassifier.Classify(exception, model, provider);
        var flexRefusal = ServiceTiers.Requested(options) == ServiceTiers.Flex && LlmGateway.IsFlexRefusal(failure);
        if (failure.Error.Type == "rate_limited" && !flexRefusal && lease != AdmissionLease.None)
        {
            var retryAfter = failure.Error.RetryAfterSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
            return await lease.RateLimitedAsync(retryAfter, headers.Last).ConfigureAwait(false) is { } until
                ? new AdmissionDeferredException(model.ToString(), "rate_limited", until) { Provider = model.Provider }
                : failure;
        }

        await lease.ReconcileAsync(0, 0, null).ConfigureAwait(false);
        return failure;
    }

    private static int InputTokens(UsageDetails? usage, IReadOnlyList<ChatMessage> messages) => (int)(usage?.InputTokenCount ?? TokenEstimator.Estimate(messages));

    private static int OutputTokens(UsageDetails? usage, string text) => (int)(usage?.OutputTokenCount ?? TokenEstimator.Estimate(text));
}

/// <summary>Wraps each provider's client in <see cref="AdmissionChatClient"/>; registered by the admission module only.</summary>
/// <remarks>
/// The admission is resolved at the first call, not with the provider registry: the admission's options read the
/// registry (its providers' keys), so resolving one inside the other's construction would wait on itself.
/// </remarks>
public sealed class AdmissionMiddleware(IServiceProvider services) : IProviderClientMiddleware
{
    public IChatClient Wrap(IChatClient client, ModelId model, ResolvedProvider? provider) =>
        new AdmissionChatClient(client, model, provider, services.GetRequiredService<ILlmAdmission>());
}
