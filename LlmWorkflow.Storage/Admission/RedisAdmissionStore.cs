using System.Globalization;
using LlmWorkflow.Engine.Llm.Admission;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Admission;

/// <summary>
/// The budgets in Redis, shared by every worker. Each scope keeps a sliding-window log (a sorted set of calls by time,
/// a hash of their requests/input/output tokens that also holds their running totals, all calls' and each tenant's
/// and user's, so a reservation reads sums, not calls), its calls in flight (a sorted set by lease expiry) and a meta hash
/// (blocked-until after a 429, whether steps wait for a slot, the limits the provider last said when lower than the
/// configured ones); a provider's, model's or key's scope also keeps which tenant and user made each call and which
/// tenants, and which users of each, wait on it, with their weights, for the fair shares. Each operation is one Lua script, so a reservation in
/// several scopes (provider and model) is all or nothing. Server time (TIME) keeps workers with skewed clocks
/// consistent. A flushed Redis starts every window empty: the provider's 429s then shrink it again. Hand-written
/// because no .NET package keeps multi-dimension token windows with reserve/reconcile in Redis.
/// </summary>
public sealed class RedisAdmissionStore(IConnectionMultiplexer redis, string keyPrefix) : IAdmissionStore
{
    /// <summary>Published when a call frees a concurrency slot steps wait for (or a provider resumes): the scopes.</summary>
    public RedisChannel ReleasedChannel => RedisChannel.Literal(keyPrefix + "admission:released");

    public async Task<AdmissionVerdict> ReserveAsync(
        string leaseId, IReadOnlyList<(string Scope, LlmLimit Limit)> scopes, AdmissionAmounts amounts, AdmissionSettings settings, string? provider = null,
        FairShare? fairShare = null, TimeSpan? outageProbeTimeout = null)
    {
        var keys = new List<RedisKey>(scopes.Count * 7 + 1);
        var args = new List<RedisValue>
        {
            Ms(settings.Window), leaseId, Ms(settings.LeaseTimeout), amounts.Requests, amounts.InputTokens, amounts.OutputTokens, scopes.Count,
            fairShare?.TenantId ?? "", Number(fairShare?.Weight ?? AdmissionOptions.DefaultWeight), Ms(FairShareGrace(settings)),
            // Escaped, so the owner "tenant<tab>user" splits at its last tab whatever the ids hold.
            Uri.EscapeDataString(fairShare?.UserId ?? ""), Number(fairShare?.UserWeight ?? AdmissionOptions.DefaultWeight),
        };
        foreach (var (scope, limit) in scopes)
        {
            keys.AddRange([Key(scope, "log"), Key(scope, "amt"), Key(scope, "fly"), Key(scope, "meta"), Key(scope, "own"), Key(scope, "ten"), Key(scope, "usr")]);
            // A tenant's own scopes are its alone: shares are of the scopes tenants contend for, providers', models' and keys'.
            var fair = fairShare is not null && !AdmissionOptions.IsTenantScope(scope);
            args.AddRange([Cap(limit.RequestsPerMinute), Cap(limit.TokensPerMinute), Cap(limit.InputTokensPerMinute), Cap(limit.OutputTokensPerMinute), Cap(limit.ConcurrentCalls), fair ? 1 : 0]);
        }

        provider ??= ProviderOf(scopes[0].Scope);
        keys.Add(PauseKey(provider));
        keys.AddRange(scopes.Select(s => Key(s.Scope, "seen")));
        keys.AddRange(scopes.Select(s => Key(s.Scope, "pri")));
        args.AddRange([Number(settings.BurstReserve), Ms(settings.Window * SeenWindows), Number(settings.PriorityReserve), Ms(settings.Window * PriorityWindows),
            fairShare?.HighPriority == true ? 1 : 0, fairShare?.CallKey ?? "", outageProbeTimeout is { } probe ? RedisOutageScripts.ProbeTtlMs(probe) : 0]);
        if (outageProbeTimeout is not null)
        {
            keys.AddRange(RedisOutageScripts.Keys(keyPrefix, provider));
        }

        var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(RedisAdmissionScripts.ReserveScript, [.. keys], [.. args]).ConfigureAwait(false))!;
        var wait = (long)result[0];
        if (wait == 0)
        {
            return AdmissionVerdict.Reserved;
        }

        if ((string?)result[2] == ProviderOutageBreaker.Reason)
        {
            return new AdmissionVerdict(TimeSpan.FromMilliseconds(wait), provider, ProviderOutageBreaker.Reason)
            {
                OutageUntil = DateTimeOffset.FromUnixTimeMilliseconds((long)result[3]),
            };
        }

        // A pause is the provider's, whatever scope came first (a tenant's may): its resume wakes the provider's waiters.
        var reason = (string?)result[2];
        return new AdmissionVerdict(wait < 0 ? null : TimeSpan.FromMilliseconds(wait), reason == "paused" ? provider : scopes[(int)result[1] - 1].Scope, reason);
    }

    public async Task ReconcileAsync(string leaseId, IReadOnlyList<string> scopes, AdmissionAmounts used, AdmissionSettings settings)
    {
        RedisKey[] keys = [.. scopes.SelectMany(s => new[] { Key(s, "log"), Key(s, "amt"), Key(s, "own") })];
        await redis.GetDatabase().ScriptEvaluateAsync(RedisAdmissionScripts.ReconcileScript, keys,
            [leaseId, used.Requests, used.InputTokens, used.OutputTokens, Ms(settings.Window), Ms(settings.LeaseTimeout)]).ConfigureAwait(false);
    }

    /// <summary>Does the outage breaker's work in admission's own scripts (<see cref="RedisOutageScripts"/>): no round trip of its own.</summary>
    public bool FoldsOutageBreaker => true;

    public async Task<AnsweredRelease> ReconcileAndReleaseAsync(
        string leaseId, IReadOnlyList<string> scopes, AdmissionAmounts used, AdmissionSettings settings, string? outageProvider = null)
    {
        RedisKey[] keys = [.. scopes.SelectMany(s => new[] { Key(s, "log"), Key(s, "amt"), Key(s, "own"), Key(s, "fly"), Key(s, "meta") }),
            .. outageProvider is null ? [] : RedisOutageScripts.Keys(keyPrefix, outageProvider)];
        var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(RedisAdmissionScripts.ReconcileAndReleaseScript, keys,
            [leaseId, used.Requests, used.InputTokens, used.OutputTokens, Ms(settings.Window), Ms(settings.LeaseTimeout), scopes.Count]).ConfigureAwait(false))!;
        var (woke, closed) = ((long)result[0] == 1, (long)result[1] == 1);
        if (woke)
        {
            await AnnounceReleasedAsync(scopes, 1).ConfigureAwait(false);
        }

        if (closed)
        {
            // The breaker closed: its parked steps are woken, as the breaker's own report does (RedisOutageStore).
            await AnnounceResumedAsync(outageProvider!).ConfigureAwait(false);
        }

        return new AnsweredRelease(woke, outageProvider is null ? null : closed);
    }

    public async Task<bool> ReleaseAsync(string leaseId, IReadOnlyList<string> scopes)
    {
        RedisKey[] keys = [.. scopes.SelectMany(s => new[] { Key(s, "fly"), Key(s, "meta") })];
        var woke = (long)(await redis.GetDatabase().ScriptEvaluateAsync(RedisAdmissionScripts.ReleaseScript, keys, [leaseId]).ConfigureAwait(false)) == 1;
        if (woke)
        {
            await AnnounceReleasedAsync(scopes, 1).ConfigureAwait(false);
        }

        return woke;
    }

    public async Task ShrinkAsync(IReadOnlyList<(string Scope, LlmLimit Limit)> scopes, RateLimitSnapshot snapshot, TimeSpan? blockedFor, AdmissionSettings settings)
    {
        var keys = new List<RedisKey>(scopes.Count * 4);
        var said = snapshot.Limits;
        var args = new List<RedisValue>
        {
            Ms(settings.Window), blockedFor is { } blocked ? Ms(blocked) : 0,
            snapshot.Requests ?? -1, snapshot.Tokens ?? -1, snapshot.InputTokens ?? -1, snapshot.OutputTokens ?? -1,
            said?.Requests ?? -1, said?.Tokens ?? -1, said?.InputTokens ?? -1, said?.OutputTokens ?? -1, Ms(SaidLimitLifetime), scopes.Count,
        };
        foreach (var (scope, limit) in scopes)
        {
            keys.AddRange([Key(scope, "log"), Key(scope, "amt"), Key(scope, "meta"), Key(scope, "own")]);
            args.AddRange([Cap(limit.RequestsPerMinute), Cap(limit.TokensPerMinute), Cap(limit.InputTokensPerMinute), Cap(limit.OutputTokensPerMinute)]);
        }

        await redis.GetDatabase().ScriptEvaluateAsync(RedisAdmissionScripts.ShrinkScript, [.. keys], [.. args]).ConfigureAwait(false);
    }

    public async Task SetPausedAsync(string provider, bool paused)
    {
        var database = redis.GetDatabase();
        if (paused)
        {
            await database.StringSetAsync(PauseKey(provider), DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)).ConfigureAwait(false);
            return;
        }

        await database.KeyDeleteAsync(PauseKey(provider)).ConfigureAwait(false);
        await AnnounceReleasedAsync([provider], ResumeWakes).ConfigureAwait(false);
    }

    public async Task<bool> IsPausedAsync(string provider) => await redis.GetDatabase().KeyExistsAsync(PauseKey(provider)).ConfigureAwait(false);

    public async Task<AdmissionUsage> UsageAsync(string scope, AdmissionSettings settings)
    {
        RedisKey[] keys = [Key(scope, "log"), Key(scope, "amt"), Key(scope, "fly"), Key(scope, "meta"), PauseKey(ProviderOf(scope)), Key(scope, "own"), Key(scope, "ten"), Key(scope, "usr")];
        var r = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(RedisAdmissionScripts.UsageScript, keys, [Ms(settings.Window)]).ConfigureAwait(false))!;
        var tenants = new List<TenantWindowUse>();
        for (var k = 10; k + 4 < r.Length;)
        {
            var (tenant, requests, tokens, waiting, userCount) = ((string)r[k]!, (long)r[k + 1], (long)r[k + 2], (long)r[k + 3] == 1, (int)r[k + 4]);
            k += 5;
            var users = new List<UserWindowUse>(userCount);
            for (var u = 0; u < userCount; u++, k += 3)
            {
                users.Add(new UserWindowUse(Uri.UnescapeDataString((string)r[k]!), (long)r[k + 1], (long)r[k + 2]));
            }

            tenants.Add(new TenantWindowUse(tenant, requests, tokens, waiting) { WaitingUsers = [.. users.OrderBy(u => u.UserId, StringComparer.Ordinal)] });
        }

        long? Said(int k) => (long)r[k] > 0 ? (long)r[k] : null;
        return new AdmissionUsage((long)r[0], (long)r[1], (long)r[2], (long)r[3], (long)r[4] == 1, (long)r[5])
        {
            Tenants = [.. tenants.OrderBy(t => t.TenantId, StringComparer.Ordinal)],
            Learned = new RateLimitLimits(Said(6), Said(7), Said(8), Said(9)) is { IsEmpty: false } learned ? learned : null,
        };
    }

    /// <summary>Wakes every step parked on <paramref name="provider"/> (a closed outage breaker, as a resumed provider does).</summary>
    public Task AnnounceResumedAsync(string provider) => AnnounceReleasedAsync([provider], ResumeWakes);

    /// <summary>"&lt;jobs to wake&gt; &lt;scope&gt;…": one freed slot wakes one waiter per worker; a resumed provider wakes many.</summary>
    private Task AnnounceReleasedAsync(IEnumerable<string> scopes, int wake) =>
        redis.GetSubscriber().PublishAsync(ReleasedChannel, $"{wake} {string.Join(' ', scopes)}");

    /// <summary>Parses a <see cref="ReleasedChannel"/> notice; null when it is not one.</summary>
    public static (int Wake, string[] Scopes)? ReadNotice(string? notice) =>
        notice?.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var count, .. var scopes] && int.TryParse(count, CultureInfo.InvariantCulture, out var wake) && scopes.Length > 0
            ? (wake, scopes)
            : null;

    private const int ResumeWakes = 1000;

    /// <summary>How many windows a tenant that used a fair scope counts as one of its tenants, for the burst reserve.</summary>
    private const int SeenWindows = 5;

    /// <summary>How many windows after a high-priority call used or waited on a scope its priority band stays held.</summary>
    private const int PriorityWindows = 2;

    /// <summary>
    /// How long a lowered limit a provider said is kept after the last answer that said it. Every answer with the
    /// header refreshes it or, saying a higher limit a window after the last one that said the lower, raises or ends
    /// it; this only bounds how long it outlives a provider that stopped sending the header.
    /// </summary>
    private static readonly TimeSpan SaidLimitLifetime = TimeSpan.FromHours(1);

    /// <summary>
    /// How long past its retry a deferred tenant still counts as waiting: time for its parked job to be woken and
    /// claimed again, so another tenant does not take the capacity meanwhile. At most the window.
    /// </summary>
    public static TimeSpan FairShareGrace(AdmissionSettings settings) => settings.Window < MaxFairShareGrace ? settings.Window : MaxFairShareGrace;

    private static readonly TimeSpan MaxFairShareGrace = TimeSpan.FromSeconds(3);

    private RedisKey Key(string scope, string part) => $"{keyPrefix}admission:{scope.ToLowerInvariant()}:{part}";

    private RedisKey PauseKey(string provider) => $"{keyPrefix}admission:paused:{provider.ToLowerInvariant()}";

    private static string ProviderOf(string scope) => scope.Split('/', 2)[0];

    private static long Ms(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds);

    private static long Cap(int? limit) => limit ?? -1;

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
