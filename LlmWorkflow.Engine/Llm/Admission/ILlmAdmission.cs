namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// Admits LLM calls against the budgets every worker shares. <see cref="AdmitAsync"/> reserves a call's estimate or
/// throws <see cref="AdmissionDeferredException"/>; the lease it returns reconciles with the real usage, learns from
/// the provider's rate-limit headers and a 429, and releases the call's concurrency slot when disposed.
/// </summary>
public interface ILlmAdmission
{
    ValueTask<AdmissionLease> AdmitAsync(ModelId model, LlmCallRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="AdmitAsync(ModelId, LlmCallRequest, CancellationToken)"/> of an attempt the provider's outage breaker
    /// watches: an admission whose store does the breaker's work asks it in the reservation (and reports the answer in
    /// the reconcile), and marks <paramref name="outage"/> so; any other leaves it to the breaker's own round trips.
    /// </summary>
    ValueTask<AdmissionLease> AdmitAsync(ModelId model, LlmCallRequest request, ProviderOutageAttempt? outage, CancellationToken cancellationToken) =>
        AdmitAsync(model, request, cancellationToken);
}

/// <summary>A reservation's numbers: one request, its estimated input and output tokens.</summary>
public readonly record struct AdmissionAmounts(int Requests, int InputTokens, int OutputTokens)
{
    public int Tokens => InputTokens + OutputTokens;
}

/// <summary>
/// Where the budgets live (Redis in a deployed service, so every worker sees the same ones). Every method is atomic;
/// a store that cannot be reached throws, and the admission then lets the call through (today's per-call retries).
/// </summary>
public interface IAdmissionStore
{
    /// <summary>
    /// Reserves <paramref name="amounts"/> in every scope, or none: the wait until they fit, or zero when reserved.
    /// Nothing is reserved while <paramref name="provider"/> (the called model's; null: the first scope's) is paused.
    /// With <paramref name="fairShare"/>, a provider's, model's or key's scope another tenant waits on admits the calling
    /// tenant only within its weighted share of the limit (reason <c>fair_share</c>), and one another user of the same
    /// tenant waits on admits the calling user only within its weighted share of the tenant's (reason
    /// <c>user_share</c>); null: first come, first served.
    /// </summary>
    /// <remarks>
    /// With <paramref name="outageProbeTimeout"/> (a store that <see cref="FoldsOutageBreaker"/>), the provider's outage
    /// breaker is asked first, as <see cref="IProviderOutageStore.EnterAsync"/> does: while it is open nothing is reserved
    /// (reason <c>outage</c>, <see cref="AdmissionVerdict.OutageUntil"/>); once its open time passed, this call is the probe.
    /// </remarks>
    Task<AdmissionVerdict> ReserveAsync(string leaseId, IReadOnlyList<(string Scope, LlmLimit Limit)> scopes, AdmissionAmounts amounts, AdmissionSettings settings,
        string? provider = null, FairShare? fairShare = null, TimeSpan? outageProbeTimeout = null);

    /// <summary>
    /// True when the reservation and the reconcile-and-release do the outage breaker's work in their own atomic step
    /// (Redis: the same scripts), so an attempt under both makes no round trip for the breaker.
    /// </summary>
    bool FoldsOutageBreaker => false;

    /// <summary>Replaces the reservation by what the call used (stamped now: the provider counted it no earlier).</summary>
    Task ReconcileAsync(string leaseId, IReadOnlyList<string> scopes, AdmissionAmounts used, AdmissionSettings settings);

    /// <summary>Frees the call's concurrency slot; true when steps were parked waiting for one (then they are woken).</summary>
    Task<bool> ReleaseAsync(string leaseId, IReadOnlyList<string> scopes);

    /// <summary>
    /// <see cref="ReconcileAsync"/> and then <see cref="ReleaseAsync"/> of an answered call, atomically where the store
    /// can (Redis: one script, one round trip instead of two on every call). With <paramref name="outageProvider"/> (a
    /// store that <see cref="FoldsOutageBreaker"/>), the answer is reported to that provider's outage breaker too, as
    /// <see cref="IProviderOutageStore.AnsweredAsync"/> does (a closed breaker's parked steps are woken).
    /// </summary>
    async Task<AnsweredRelease> ReconcileAndReleaseAsync(
        string leaseId, IReadOnlyList<string> scopes, AdmissionAmounts used, AdmissionSettings settings, string? outageProvider = null)
    {
        await ReconcileAsync(leaseId, scopes, used, settings).ConfigureAwait(false);
        return new AnsweredRelease(await ReleaseAsync(leaseId, scopes).ConfigureAwait(false), null);
    }

    /// <summary>Lowers what is left in the window to what the provider says is left, and blocks until <paramref name="blockedFor"/> ends.</summary>
    Task ShrinkAsync(IReadOnlyList<(string Scope, LlmLimit Limit)> scopes, RateLimitSnapshot snapshot, TimeSpan? blockedFor, AdmissionSettings settings);

    /// <summary>Pauses or resumes a provider (a zero budget); paused steps wait parked.</summary>
    Task SetPausedAsync(string provider, bool paused);

    Task<bool> IsPausedAsync(string provider);

    /// <summary>What each scope has used and reserved in the current window, for operators.</summary>
    Task<AdmissionUsage> UsageAsync(string scope, AdmissionSettings settings);
}

/// <summary>A reservation's answer: reserved (<see cref="Wait"/> zero), or which limit is full and for how long.</summary>
/// <param name="Wait">Zero when reserved; null when the wait has no known end (a full concurrency limit, a paused provider).</param>
public sealed record AdmissionVerdict(TimeSpan? Wait, string? Scope = null, string? Reason = null)
{
    public static readonly AdmissionVerdict Reserved = new(TimeSpan.Zero);

    /// <summary>When the provider's outage breaker lets a call ask again (reason <c>outage</c>); null otherwise.</summary>
    public DateTimeOffset? OutageUntil { get; init; }

    public bool IsReserved => Wait == TimeSpan.Zero;
}

/// <summary>An answered call's release: whether steps waited for its slot, and whether its answer closed the provider's outage breaker (null: the breaker was not told).</summary>
public readonly record struct AnsweredRelease(bool Woke, bool? OutageClosed);

/// <summary>A scope's window now: requests, tokens (input, output), calls in flight, and each active tenant's part.</summary>
public sealed record AdmissionUsage(long Requests, long InputTokens, long OutputTokens, long InFlight, bool Paused, long BlockedForMs)
{
    /// <summary>The tenants with calls in the window or waiting on the scope (provider and model scopes only).</summary>
    public IReadOnlyList<TenantWindowUse> Tenants { get; init; } = [];

    /// <summary>The limits the provider's answers said (held while lower than the configured ones, or with none configured); null: none said.</summary>
    public RateLimitLimits? Learned { get; init; }
}

/// <summary>One tenant's part of a scope's window: its requests and tokens, and whether it waits for its share.</summary>
public sealed record TenantWindowUse(string TenantId, long Requests, long Tokens, bool Waiting)
{
    /// <summary>The tenant's users waiting on the scope, by user id: its users' shares are among them.</summary>
    public IReadOnlyList<UserWindowUse> WaitingUsers { get; init; } = [];
}

/// <summary>One waiting user's part of a scope's window (<see cref="AdmissionOptions.NoUser"/> for jobs without a user_id).</summary>
public sealed record UserWindowUse(string UserId, long Requests, long Tokens);

/// <summary>
/// Who reserves, for the fair shares of a contended scope and the priority band: the calling tenant and its weight
/// (<c>Tenants:&lt;id&gt;:Weight</c>), and the job's user within it and that user's weight
/// (<c>Tenants:&lt;id&gt;:UserWeights:&lt;user_id&gt;</c>; docs/ADMISSION.md, "Fair shares between tenants").
/// </summary>
/// <param name="UserId">The job's user_id; <see cref="AdmissionOptions.NoUser"/> ("") for jobs without one, which are one user together.</param>
public sealed record FairShare(string TenantId, double Weight, string UserId = AdmissionOptions.NoUser, double UserWeight = AdmissionOptions.DefaultWeight)
{
    /// <summary>
    /// The call is interactive work (its job's priority is in the high band, <see cref="LlmCallRequest.HighPriorityBand"/> or more):
    /// it may use the priority band (<see cref="AdmissionSettings.PriorityReserve"/>) the others leave free.
    /// </summary>
    public bool HighPriority { get; init; }

    /// <summary>
    /// A high-priority call's key, the same each time its job asks again after a park (<see cref="LlmAdmission.CallKeyOf"/>):
    /// while it waits, the scope records what it will reserve under this key, and lower-priority calls leave room for it;
    /// its reservation removes the record. Null: nothing is recorded.
    /// </summary>
    public string? CallKey { get; init; }
}

/// <summary>
/// A call's reservation. Reconcile once with the answer's usage; report a 429; dispose to release the concurrency slot.
/// </summary>
public abstract class AdmissionLease : IAsyncDisposable
{
    /// <summary>A lease of a call no budget limits.</summary>
    public static readonly AdmissionLease None = new NoLease();

    /// <param name="headers">The answer's rate-limit headers, if it sent any: the budget re-syncs from them.</param>
    public virtual Task ReconcileAsync(int inputTokens, int outputTokens, RateLimitSnapshot? headers) => Task.CompletedTask;

    /// <summary>
    /// <see cref="ReconcileAsync"/> of an answered call; a lease whose store does the outage breaker's work reports the
    /// answer to it in the same step and marks <paramref name="outage"/> (else the breaker is told by its own round trip).
    /// </summary>
    public virtual Task ReconcileAnsweredAsync(int inputTokens, int outputTokens, RateLimitSnapshot? headers, ProviderOutageAttempt? outage) =>
        ReconcileAsync(inputTokens, outputTokens, headers);

    /// <summary>The provider answered 429: the budget shrinks to what it says is left, until its retry-after passes.</summary>
    /// <returns>When the call may be tried again; null when the admission does not handle the 429 (the retries do).</returns>
    public virtual Task<DateTimeOffset?> RateLimitedAsync(TimeSpan? retryAfter, RateLimitSnapshot? headers) => Task.FromResult<DateTimeOffset?>(null);

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class NoLease : AdmissionLease;
}

/// <summary>No budgets (the CLI, a host without Redis): every call is admitted.</summary>
public sealed class UnlimitedAdmission : ILlmAdmission
{
    public ValueTask<AdmissionLease> AdmitAsync(ModelId model, LlmCallRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AdmissionLease.None);
}

/// <summary>The output tokens a step's past answers used (its p95), to estimate the next call's.</summary>
public interface IOutputTokenHistory
{
    /// <summary>The 95th percentile of the step's recent answers' output tokens with <paramref name="model"/>; null without history.</summary>
    ValueTask<int?> P95Async(string workflowName, string stepId, string model, CancellationToken cancellationToken);
}
