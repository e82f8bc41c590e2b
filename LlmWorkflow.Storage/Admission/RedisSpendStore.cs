using LlmWorkflow.Engine.Llm.Budgets;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Admission;

/// <summary>A dollar budget's window: its name, its cap and its length.</summary>
/// <param name="Scope"><c>tenant:&lt;id&gt;:daily</c>, <c>tenant:&lt;id&gt;:monthly</c> or <c>tenant:&lt;id&gt;:user:&lt;user&gt;:daily</c>.</param>
public sealed record SpendScope(string Scope, decimal LimitUsd, TimeSpan Window, string TenantId, string? UserId)
{
    /// <summary>Which budget: <c>daily</c>, <c>monthly</c> or <c>per_user_daily</c>.</summary>
    public string Kind => UserId is null ? Scope[(Scope.LastIndexOf(':') + 1)..] : "per_user_daily";
}

/// <summary>What a window holds now: spend settled (paid calls) and reserved (calls in flight), in US dollars.</summary>
public sealed record SpendUsage(decimal SettledUsd, decimal ReservedUsd);

/// <summary>
/// The dollar budgets in Redis, shared by every worker. Each scope keeps its settled spend in time buckets (a sorted
/// set by the bucket's end, so spend leaves the window no sooner than the calls in it; 1,440 buckets a window), its
/// reservations by lease (a sorted set by expiry: a dead worker's reservation lapses), their amounts in micro-dollars
/// (a hash) and the running totals (a meta hash, whose presence also says the scope was seeded). Each operation is
/// one Lua script, so a reservation in several scopes (tenant daily, monthly, user daily) is all or nothing. A scope
/// without state (a flushed Redis, a window with no activity) is seeded from PostgreSQL's usage rows first.
/// Hand-written beside <see cref="RedisAdmissionStore"/> for the same reason: no package keeps such windows.
/// </summary>
public sealed class RedisSpendStore(IConnectionMultiplexer redis, string keyPrefix)
{
    /// <summary>Buckets a window is cut into: the time spend is held past its call is at most one bucket (1 min a day).</summary>
    private const int BucketsPerWindow = 1440;

    // The clock and one scope's totals after purging what left the window and reservations that lapsed.
    private const string Purge = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local function drop(set, amt, meta, field, upto)
          local gone = redis.call('ZRANGEBYSCORE', set, '-inf', upto)
          if #gone == 0 then return end
          local total = 0
          for _, m in ipairs(gone) do total = total + tonumber(redis.call('HGET', amt, m) or '0') end
          redis.call('ZREMRANGEBYSCORE', set, '-inf', upto)
          redis.call('HDEL', amt, unpack(gone))
          redis.call('HINCRBY', meta, field, -total)
        end
        local function totals(log, res, amt, meta, window_ms)
          drop(log, amt, meta, 'settled', '(' .. (now - window_ms))
          drop(res, amt, meta, 'reserved', now)
          return tonumber(redis.call('HGET', meta, 'settled') or '0'), tonumber(redis.call('HGET', meta, 'reserved') or '0')
        end
        local function keep(keys, ms)
          for _, k in ipairs(keys) do redis.call('PEXPIRE', k, ms) end
        end
        """;

    // KEYS per scope: log, res, amt, meta. ARGV: lease, need (micro-dollars), ttl_ms, n, then per scope cap, window_ms.
    // Returns {code, scope, spent, wait_ms}: 0 reserved; 1 pending (only unsettled reservations are in the way);
    // 2 exceeded (wait_ms until enough spend leaves the window, -1 never); 3 the scope needs seeding.
    private const string ReserveScript = Purge + "\n" + """
        local lease, need, ttl, n = 'r:' .. ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local pending, exceeded = nil, nil
        for s = 1, n do
          local log, res, amt, meta = KEYS[4*s-3], KEYS[4*s-2], KEYS[4*s-1], KEYS[4*s]
          local cap, window_ms = tonumber(ARGV[3 + 2*s]), tonumber(ARGV[4 + 2*s])
          if redis.call('EXISTS', meta) == 0 then return {3, s, 0, 0} end
          local settled, reserved = totals(log, res, amt, meta, window_ms)
          if settled + need > cap then
            local wait = -1
            if need <= cap then
              local freed = 0
              local buckets = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
              for k = 1, #buckets, 2 do
                freed = freed + tonumber(redis.call('HGET', amt, buckets[k]) or '0')
                if settled - freed + need <= cap then wait = tonumber(buckets[k + 1]) + window_ms - now + 1; break end
              end
            end
            if exceeded == nil or wait == -1 or (exceeded[4] ~= -1 and wait > exceeded[4]) then exceeded = {2, s, settled + reserved, wait} end
          elseif settled + reserved + need > cap and pending == nil then
            pending = {1, s, settled + reserved, 0}
          end
        end
        if exceeded then return exceeded end
        if pending then return pending end
        for s = 1, n do
          local res, amt, meta = KEYS[4*s-2], KEYS[4*s-1], KEYS[4*s]
          redis.call('ZADD', res, now + ttl, lease)
          redis.call('HSET', amt, lease, need)
          redis.call('HINCRBY', meta, 'reserved', need)
          keep({KEYS[4*s-3], res, amt, meta}, tonumber(ARGV[4 + 2*s]) + ttl)
        end
        return {0, 0, 0, 0}
        """;

    // KEYS per scope: log, res, amt, meta. ARGV: lease, cost (micro-dollars), ttl_ms, n, then per scope window_ms.
    // The reservation goes; the cost joins the bucket of now. A scope without state (flushed since) is left to its seed.
    private const string SettleScript = Purge + "\n" + """
        local lease, cost, ttl, n = 'r:' .. ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        for s = 1, n do
          local log, res, amt, meta = KEYS[4*s-3], KEYS[4*s-2], KEYS[4*s-1], KEYS[4*s]
          local window_ms = tonumber(ARGV[4 + s])
          if redis.call('EXISTS', meta) == 1 then
            local held = redis.call('HGET', amt, lease)
            if held then
              redis.call('HINCRBY', meta, 'reserved', -tonumber(held))
              redis.call('HDEL', amt, lease)
              redis.call('ZREM', res, lease)
            end
            if cost > 0 then
              local bucket_ms = math.max(1, math.floor(window_ms / 1440))
              local index = math.floor(now / bucket_ms)
              redis.call('ZADD', log, (index + 1) * bucket_ms, 'b:' .. index)
              redis.call('HINCRBY', amt, 'b:' .. index, cost)
              redis.call('HINCRBY', meta, 'settled', cost)
            end
            keep({log, res, amt, meta}, window_ms + ttl)
          end
        end
        return 1
        """;

    // KEYS: log, res, amt, meta. ARGV: window_ms, ttl_ms, then bucket index, micro-dollars pairs. Only when no other
    // worker seeded it meanwhile (the meta hash is the mark).
    private const string SeedScript = Purge + "\n" + """
        if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
        local window_ms, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
        local bucket_ms = math.max(1, math.floor(window_ms / 1440))
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
        local total = 0
        for k = 3, #ARGV, 2 do
          local index, amount = tonumber(ARGV[k]), tonumber(ARGV[k + 1])
          redis.call('ZADD', KEYS[1], (index + 1) * bucket_ms, 'b:' .. index)
          redis.call('HINCRBY', KEYS[3], 'b:' .. index, amount)
          total = total + amount
        end
        redis.call('HSET', KEYS[4], 'settled', total, 'reserved', 0)
        keep(KEYS, window_ms + ttl)
        return 1
        """;

    // KEYS: log, res, amt, meta. ARGV: window_ms. Returns {seeded, settled, reserved}.
    private const string UsageScript = Purge + "\n" + """
        if redis.call('EXISTS', KEYS[4]) == 0 then return {0, 0, 0} end
        local settled, reserved = totals(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]))
        return {1, settled, reserved}
        """;

    /// <summary>How long a reservation is held at most if its worker dies before settling it.</summary>
    public static readonly TimeSpan ReservationTimeout = TimeSpan.FromMinutes(10);

    /// <summary>The length of one time bucket of a window (what the seed groups usage rows by).</summary>
    public static long BucketMs(TimeSpan window) => Math.Max(1, (long)window.TotalMilliseconds / BucketsPerWindow);

    /// <summary>Reserves in every scope or none. <see cref="ReserveResult.NeedsSeed"/> names a scope to seed first.</summary>
    public async Task<ReserveResult> ReserveAsync(string leaseId, IReadOnlyList<SpendScope> scopes, decimal estimateUsd)
    {
        var keys = scopes.SelectMany(Keys).ToArray();
        var args = new List<RedisValue> { leaseId, Micro(estimateUsd), Ms(ReservationTimeout), scopes.Count };
        foreach (var scope in scopes)
        {
            args.AddRange([Micro(scope.LimitUsd), Ms(scope.Window)]);
        }

        var r = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, keys, [.. args]).ConfigureAwait(false))!;
        var (code, index, spent, wait) = ((long)r[0], (int)r[1], (long)r[2], (long)r[3]);
        var scopeOf = index > 0 ? scopes[index - 1] : null;
        return code switch
        {
            0 => new ReserveResult(SpendVerdict.Reserved, null),
            3 => new ReserveResult(null, scopeOf),
            _ => new ReserveResult(new SpendVerdict(
                code == 1 ? SpendOutcome.Pending : SpendOutcome.Exceeded, scopeOf!.Scope, scopeOf.LimitUsd, Usd(spent),
                wait >= 0 && code == 2 ? DateTimeOffset.UtcNow.AddMilliseconds(wait) : null), null),
        };
    }

    /// <summary>
    /// Where settlements are announced (the message: the budgets' scopes, space-separated), so that steps waiting in a
    /// worker for reservations to settle ask again (<see cref="TenantSpendBudgets"/>) and the workers'
    /// <c>BudgetWaiterWaker</c> wakes a job parked on those reservations (reason <c>usd_reserved</c>) at once.
    /// </summary>
    public RedisChannel SettledChannel => RedisChannel.Literal(keyPrefix + "budget:settled");

    public async Task SettleAsync(string leaseId, IReadOnlyList<SpendScope> scopes, decimal costUsd)
    {
        var args = new List<RedisValue> { leaseId, Micro(costUsd), Ms(ReservationTimeout), scopes.Count };
        args.AddRange(scopes.Select(s => (RedisValue)Ms(s.Window)));
        await redis.GetDatabase().ScriptEvaluateAsync(SettleScript, [.. scopes.SelectMany(Keys)], [.. args]).ConfigureAwait(false);
        // Fire and forget: a lost notice costs a waiter its own due time or the in-worker cap, never a job.
        _ = redis.GetSubscriber().PublishAsync(SettledChannel, string.Join(' ', scopes.Select(s => s.Scope)), CommandFlags.FireAndForget);
    }

    /// <summary>Calls <paramref name="onSettled"/> with the scopes of every settlement announced from now on (any worker's).</summary>
    public Task SubscribeSettledAsync(Action<string[]> onSettled) =>
        redis.GetSubscriber().SubscribeAsync(SettledChannel, (_, message) => onSettled(((string?)message ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)));

    /// <summary>Seeds a scope with the spend PostgreSQL recorded in its window, by bucket; false when another worker did.</summary>
    public async Task<bool> SeedAsync(SpendScope scope, IReadOnlyList<(long Bucket, decimal Usd)> buckets)
    {
        var args = new List<RedisValue> { Ms(scope.Window), Ms(ReservationTimeout) };
        foreach (var (bucket, usd) in buckets)
        {
            args.AddRange([bucket, Micro(usd)]);
        }

        return (long)(await redis.GetDatabase().ScriptEvaluateAsync(SeedScript, Keys(scope), [.. args]).ConfigureAwait(false)) == 1;
    }

    /// <summary>The window's settled and reserved spend; null when the scope has no state (it needs seeding).</summary>
    public async Task<SpendUsage?> UsageAsync(SpendScope scope)
    {
        var r = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(UsageScript, Keys(scope), [Ms(scope.Window)]).ConfigureAwait(false))!;
        return (long)r[0] == 0 ? null : new SpendUsage(Usd((long)r[1]), Usd((long)r[2]));
    }

    private RedisKey[] Keys(SpendScope scope)
    {
        var root = $"{keyPrefix}budget:{scope.Scope}:";
        return [root + "log", root + "res", root + "amt", root + "meta"];
    }

    /// <summary>Micro-dollars, rounded up (a reservation never holds less than its estimate).</summary>
    private static long Micro(decimal usd) => (long)Math.Ceiling(usd * 1_000_000m);

    private static decimal Usd(long micro) => micro / 1_000_000m;

    private static long Ms(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds);
}

/// <summary>A reservation's answer, or (verdict null) the scope that must be seeded from PostgreSQL first.</summary>
public sealed record ReserveResult(SpendVerdict? Verdict, SpendScope? NeedsSeed);
