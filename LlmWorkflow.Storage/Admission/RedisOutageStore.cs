using LlmWorkflow.Engine.Llm.Admission;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Admission;

/// <summary>
/// Each provider's outage breaker in Redis (one hash per provider: failures in a row, open-until, the probe interval,
/// when the outage began; a probe key held by the one call that probes), so every worker parks on one outage and the
/// API shows it. Closing announces the provider on the admission's release channel: the parked steps are woken at once.
/// Hand-written: Polly's breaker is per process and sized by call counts, not shared and not consecutive.
/// </summary>
public sealed class RedisOutageStore(IConnectionMultiplexer redis, RedisAdmissionStore admission, string keyPrefix) : IProviderOutageStore
{
    private const string Clock = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        """;

    // KEYS: hash, probe. ARGV: probe_ttl_ms. Returns {go (1/0), probe (1/0), wait_until_ms}.
    private const string EnterScript = Clock + "\n" + RedisOutageScripts.Enter + "\n" + """
        local go, probe, wait_until = outage_enter(KEYS[1], KEYS[2], tonumber(ARGV[1]))
        return {go, probe, wait_until}
        """;

    // KEYS: hash, probe. ARGV: threshold, base_ms, max_ms. Returns open_until_ms (0: closed).
    private const string FailedScript = Clock + """
        local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
        redis.call('PEXPIRE', KEYS[1], 86400000)
        local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
        local probing = redis.call('HGET', KEYS[1], 'probing') == '1'
        if open_until > now and not probing then return open_until end
        if fails < tonumber(ARGV[1]) and not probing then return 0 end
        local interval = tonumber(ARGV[2])
        if probing then interval = math.min(tonumber(ARGV[3]), tonumber(redis.call('HGET', KEYS[1], 'interval') or ARGV[2]) * 2) end
        if open_until == 0 then redis.call('HSET', KEYS[1], 'opened_at', now) end
        redis.call('HSET', KEYS[1], 'open_until', now + interval, 'interval', interval, 'probing', '0')
        redis.call('DEL', KEYS[2])
        return now + interval
        """;

    // KEYS: hash, probe. Returns 1 when the breaker was open (it closes now).
    private const string AnsweredScript = RedisOutageScripts.Answered + "\n" + """
        return outage_answered(KEYS[1], KEYS[2])
        """;

    public async Task<OutageGate> EnterAsync(string provider, TimeSpan probeTimeout)
    {
        var r = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(EnterScript, Keys(provider), [RedisOutageScripts.ProbeTtlMs(probeTimeout)]).ConfigureAwait(false))!;
        return new OutageGate((long)r[0] == 1, (long)r[1] == 1, (long)r[2] > 0 ? DateTimeOffset.FromUnixTimeMilliseconds((long)r[2]) : null);
    }

    public async Task<DateTimeOffset?> FailedAsync(string provider, ProviderOutageOptions options)
    {
        var until = (long)(await redis.GetDatabase().ScriptEvaluateAsync(FailedScript, Keys(provider),
            [Math.Max(1, options.ConsecutiveFailures), (long)options.ProbeInterval.TotalMilliseconds, (long)options.MaxProbeInterval.TotalMilliseconds]).ConfigureAwait(false));
        return until > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(until) : null;
    }

    public async Task<bool> AnsweredAsync(string provider)
    {
        var database = redis.GetDatabase();
        // Most answers find no outage: one read, no script.
        if (!await database.KeyExistsAsync(Keys(provider)[0]).ConfigureAwait(false))
        {
            return false;
        }

        var closed = (long)(await database.ScriptEvaluateAsync(AnsweredScript, Keys(provider)).ConfigureAwait(false)) == 1;
        if (closed)
        {
            await admission.AnnounceResumedAsync(provider).ConfigureAwait(false);
        }

        return closed;
    }

    public async Task<ProviderOutageState> StateAsync(string provider)
    {
        var fields = await redis.GetDatabase().HashGetAsync(Keys(provider)[0], ["fails", "opened_at", "open_until", "probing"]).ConfigureAwait(false);
        var fails = fields[0].TryParse(out long f) ? (int)f : 0;
        DateTimeOffset? At(RedisValue value) => value.TryParse(out long ms) && ms > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        var until = At(fields[2]);
        var state = until is null ? "closed" : until > DateTimeOffset.UtcNow && fields[3] != "1" ? "open" : "half_open";
        return new ProviderOutageState(provider, state, fails, At(fields[1]), until);
    }

    private RedisKey[] Keys(string provider) => RedisOutageScripts.Keys(keyPrefix, provider);
}
