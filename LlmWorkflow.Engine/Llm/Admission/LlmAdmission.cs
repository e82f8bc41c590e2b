using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// The one owner of LLM admission: estimates a call (prompt tokens by the model's tokenizer; output by the step's
/// p95 of past answers, capped by max_tokens), reserves it in every scope whose limits apply, waits in the worker for
/// a short wait and defers a longer one (the step parks). A store that cannot be reached lets the call through: the
/// provider's 429s and the per-call retries are then what limits it, as before admission existed.
/// </summary>
public sealed partial class LlmAdmission(
    IOptionsMonitor<AdmissionOptions> options,
    IAdmissionStore store,
    IOutputTokenHistory history,
    TimeProvider time,
    ILogger<LlmAdmission> logger) : ILlmAdmission
{
    /// <summary>Short waits in the worker before the step is parked instead (another worker may keep taking the budget).</summary>
    private const int MaxInlineWaits = 3;

    private readonly IOptionsMonitor<AdmissionOptions> _options = options;
    private readonly IAdmissionStore _store = store;
    private readonly TimeProvider _time = time;

    public ValueTask<AdmissionLease> AdmitAsync(ModelId model, LlmCallRequest request, CancellationToken cancellationToken) =>
        AdmitAsync(model, request, null, cancellationToken);

    /// <remarks>
    /// With a store that <see cref="IAdmissionStore.FoldsOutageBreaker"/>, the reservation asks the provider's outage
    /// breaker (no round trip of its own); with no budget for the call there is no reservation, so the breaker's own
    /// check runs, before the pause's as it always did.
    /// </remarks>
    public async ValueTask<AdmissionLease> AdmitAsync(ModelId model, LlmCallRequest request, ProviderOutageAttempt? outage, CancellationToken cancellationToken)
    {
        var current = _options.CurrentValue;
        var scopes = current.ScopesFor(model, request.TenantId, request.UserId).ToList();
        if (scopes.Count == 0 || (outage is not null && !_store.FoldsOutageBreaker))
        {
            await (outage?.EnterSeparatelyAsync() ?? Task.CompletedTask).ConfigureAwait(false);
        }

        if (scopes.Count == 0)
        {
            // No budget, but a paused provider still holds its calls back (a zero budget).
            await ThrowIfPausedAsync(model, current.Admission).ConfigureAwait(false);
            return AdmissionLease.None;
        }

        var amounts = new AdmissionAmounts(1, PromptTokenCounter.Count(model, request.Messages), await OutputEstimateAsync(model, request, current.Admission, cancellationToken).ConfigureAwait(false));
        var leaseId = Guid.CreateVersion7().ToString("N");
        var tenant = request.TenantId ?? AdmissionOptions.DefaultTenant;
        var user = request.UserId ?? AdmissionOptions.NoUser;
        var fairShare = new FairShare(tenant, current.WeightOf(tenant), user, current.UserWeightOf(tenant, user))
        {
            HighPriority = request.IsHighPriority,
            CallKey = request.IsHighPriority && current.Admission.PriorityReserve > 0 ? CallKeyOf(model, request, tenant, user) : null,
        };
        for (var inline = 0; ; inline++)
        {
            AdmissionVerdict verdict;
            try
            {
                verdict = await _store.ReserveAsync(leaseId, scopes, amounts, current.Admission, model.Provider, fairShare, outage?.PendingEntry).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Nothing reserved, so nothing asked the breaker either: the middleware asks it by its own round trip.
                AdmissionMetrics.Degraded.Add(1, AdmissionMetrics.Scope(scopes[0].Scope));
                LogStoreUnreachable(ex, model.ToString());
                return AdmissionLease.None;
            }

            // The script asked the breaker; a short wait's next reservation does not ask it again (its check was made).
            outage?.Entered();
            if (verdict.Reason == ProviderOutageBreaker.Reason)
            {
                throw new AdmissionDeferredException(model.Provider, ProviderOutageBreaker.Reason, verdict.OutageUntil ?? _time.GetUtcNow() + (verdict.Wait ?? current.Admission.ReleaseWait))
                {
                    Provider = model.Provider,
                };
            }

            if (verdict.IsReserved)
            {
                foreach (var (scope, _) in scopes)
                {
                    AdmissionMetrics.Reserved.Add(amounts.Tokens, AdmissionMetrics.Scope(scope));
                }

                return new StoredLease(this, leaseId, scopes);
            }

            var scopeTag = AdmissionMetrics.Scope(verdict.Scope ?? scopes[0].Scope);
            if (verdict.Wait is { } wait && wait <= current.Admission.InlineWait && inline < MaxInlineWaits)
            {
                AdmissionMetrics.Deferred.Add(1, scopeTag, new("llmworkflow.admission.reason", verdict.Reason), new("llmworkflow.admission.parked", false));
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            AdmissionMetrics.Deferred.Add(1, scopeTag, new("llmworkflow.admission.reason", verdict.Reason), new("llmworkflow.admission.parked", true));
            var until = _time.GetUtcNow() + (verdict.Wait ?? current.Admission.ReleaseWait);
            throw new AdmissionDeferredException(verdict.Scope ?? scopes[0].Scope, verdict.Reason ?? "budget", until) { Provider = model.Provider };
        }
    }

    private async Task ThrowIfPausedAsync(ModelId model, AdmissionSettings settings)
    {
        bool paused;
        try
        {
            paused = await _store.IsPausedAsync(model.Provider).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreUnreachable(ex, model.ToString());
            return;
        }

        if (paused)
        {
            AdmissionMetrics.Deferred.Add(1, AdmissionMetrics.Scope(model.Provider), new("llmworkflow.admission.reason", "paused"), new("llmworkflow.admission.parked", true));
            throw new AdmissionDeferredException(model.Provider, "paused", _time.GetUtcNow() + settings.ReleaseWait) { Provider = model.Provider };
        }
    }

    /// <summary>
    /// A call's key across its job's parks (a parked step asks again with a new lease): its tenant, user, step, model and
    /// rendered messages. Two jobs making the very same call share one key; the record then stands for one of them
    /// (the other is recorded again when it waits again).
    /// </summary>
    internal static string CallKeyOf(ModelId model, LlmCallRequest request, string tenant, string user)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var part in new[] { tenant, user, request.WorkflowName ?? "", request.StepId ?? "", model.ToString() })
        {
            Append(hash, part);
        }

        foreach (var message in request.Messages)
        {
            Append(hash, message.Role.Value);
            Append(hash, message.Text);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset(), 0, 16);

        // Each part ends with a NUL, so one part does not run into the next.
        static void Append(System.Security.Cryptography.IncrementalHash hash, string part)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(part));
            hash.AppendData([0]);
        }
    }

    /// <summary>The step's p95 of past answers when known, else max_tokens, else the default; never above max_tokens.</summary>
    private ValueTask<int> OutputEstimateAsync(ModelId model, LlmCallRequest request, AdmissionSettings settings, CancellationToken cancellationToken) =>
        OutputTokenForecast.ForecastAsync(history, request.WorkflowName, request.StepId, model, request.MaxTokens, settings.DefaultOutputTokens,
            ex => LogHistoryUnreadable(ex, request.WorkflowName!, request.StepId!), cancellationToken);

    /// <summary>Runs a store write after the call; a failure there costs accuracy, never the answer.</summary>
    private async Task<T?> AfterCallAsync<T>(Func<Task<T>> write, string what)
    {
        try
        {
            return await write().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAfterCallFailed(ex, what);
            return default;
        }
    }

    private sealed class StoredLease(LlmAdmission owner, string leaseId, List<(string Scope, LlmLimit Limit)> scopes) : AdmissionLease
    {
        private readonly string[] _names = [.. scopes.Select(s => s.Scope)];

        // Set when the reconcile's script ran, which freed the slot too.
        private bool _released;

        // A provider's rate-limit headers say nothing about a tenant's own limits, nor a key's (they count per model):
        // those are never shrunk by them.
        private readonly List<(string Scope, LlmLimit Limit)> _providerScopes =
            [.. scopes.Where(s => AdmissionOptions.FollowsProviderHeaders(s.Scope))];

        public override Task ReconcileAsync(int inputTokens, int outputTokens, RateLimitSnapshot? headers) =>
            ReconcileAnsweredAsync(inputTokens, outputTokens, headers, null);

        public override async Task ReconcileAnsweredAsync(int inputTokens, int outputTokens, RateLimitSnapshot? headers, ProviderOutageAttempt? outage)
        {
            var used = new AdmissionAmounts(1, inputTokens, outputTokens);
            var settings = owner._options.CurrentValue.Admission;
            var outageProvider = outage is not null && owner._store.FoldsOutageBreaker ? outage.Provider : null;
            // The answered call's slot is freed in the same script (one round trip, not two), and the answer reported to the
            // outage breaker there too; disposing then has nothing left to do unless that script failed (then the breaker
            // is told by its own round trip). The re-sync from headers comes after it: a step its release wakes is claimed
            // again long after that.
            _released = await owner.AfterCallAsync(
                async () =>
                {
                    var release = await owner._store.ReconcileAndReleaseAsync(leaseId, _names, used, settings, outageProvider).ConfigureAwait(false);
                    if (release.OutageClosed is { } closed)
                    {
                        outage!.Answered(closed);
                    }

                    return true;
                },
                "reconcile").ConfigureAwait(false);
            if (headers is not null)
            {
                await owner.AfterCallAsync(async () => { await owner._store.ShrinkAsync(_providerScopes, headers, null, settings).ConfigureAwait(false); return true; }, "re-sync from headers").ConfigureAwait(false);
            }

            foreach (var scope in _names)
            {
                AdmissionMetrics.Used.Add(used.Tokens, AdmissionMetrics.Scope(scope));
            }
        }

        public override async Task<DateTimeOffset?> RateLimitedAsync(TimeSpan? retryAfter, RateLimitSnapshot? headers)
        {
            var settings = owner._options.CurrentValue.Admission;
            // The refused call used no tokens; the provider's own count (its headers) is what fills the window now.
            var blockedFor = retryAfter ?? headers?.RetryAfter ?? headers?.ResetAfter ?? TimeSpan.FromSeconds(1);
            var stored = await owner.AfterCallAsync(async () =>
            {
                await owner._store.ReconcileAsync(leaseId, _names, new AdmissionAmounts(1, 0, 0), settings).ConfigureAwait(false);
                await owner._store.ShrinkAsync(_providerScopes, headers ?? new RateLimitSnapshot(null, null, null, null, blockedFor), blockedFor, settings).ConfigureAwait(false);
                return true;
            }, "shrink after a 429").ConfigureAwait(false);
            foreach (var scope in _names)
            {
                AdmissionMetrics.RateLimited.Add(1, AdmissionMetrics.Scope(scope));
            }

            // Without the store the per-call retries handle the 429, as before admission.
            return stored ? owner._time.GetUtcNow() + blockedFor : null;
        }

        public override async ValueTask DisposeAsync()
        {
            if (!_released)
            {
                await owner.AfterCallAsync(() => owner._store.ReleaseAsync(leaseId, _names), "release").ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The LLM budget store could not be reached; {Model} is called without admission (the provider's 429s and retries limit it)")]
    private partial void LogStoreUnreachable(Exception ex, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The output history of {Workflow}/{Step} could not be read; max_tokens is the estimate")]
    private partial void LogHistoryUnreadable(Exception ex, string workflow, string step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The LLM budget store failed to {What}; the budget is approximate until the window passes")]
    private partial void LogAfterCallFailed(Exception ex, string what);
}
