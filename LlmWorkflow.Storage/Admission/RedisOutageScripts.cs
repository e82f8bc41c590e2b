using StackExchange.Redis;

namespace LlmWorkflow.Storage.Admission;

/// <summary>
/// The one owner of the outage breaker's Lua and keys (docs/ADMISSION.md, "Outages park"): <see cref="RedisOutageStore"/>
/// runs the fragments as scripts of their own, and admission's reservation and its reconcile-and-release of an answered
/// call run them inside their own scripts, so a call under both makes no round trip for the breaker when it is closed.
/// Each fragment is a Lua function that reads <c>now</c> (milliseconds, the server's clock), defined before it.
/// </summary>
internal static class RedisOutageScripts
{
    // The check before a call: returns go (1/0), probe (1/0: this call probes an outage whose open time passed),
    // wait_until_ms (when it may ask again; 0 when it goes). The probe key is held by the one call that probes.
    internal const string Enter = """
        local function outage_enter(hash, probe, probe_ttl_ms)
          local open_until = tonumber(redis.call('HGET', hash, 'open_until') or '0')
          if open_until == 0 then return 1, 0, 0 end
          if open_until > now then return 0, 0, open_until end
          if redis.call('SET', probe, '1', 'NX', 'PX', probe_ttl_ms) then
            redis.call('HSET', hash, 'probing', '1')
            return 1, 1, 0
          end
          return 0, 0, now + math.max(1000, redis.call('PTTL', probe))
        end
        """;

    // An answered call: the failures in a row start again and an open breaker closes. Returns 1 when it was open.
    internal const string Answered = """
        local function outage_answered(hash, probe)
          if redis.call('EXISTS', hash) == 0 then return 0 end
          local was = tonumber(redis.call('HGET', hash, 'open_until') or '0')
          redis.call('DEL', hash, probe)
          if was > 0 then return 1 end
          return 0
        end
        """;

    /// <summary>The provider's breaker hash and its probe key.</summary>
    internal static RedisKey[] Keys(string keyPrefix, string provider) =>
        [$"{keyPrefix}admission:outage:{provider.ToLowerInvariant()}", $"{keyPrefix}admission:outage:{provider.ToLowerInvariant()}:probe"];

    /// <summary>How long the probe key outlives a probe call's attempt timeout (a probe that never reports frees it then).</summary>
    internal static long ProbeTtlMs(TimeSpan probeTimeout) => (long)probeTimeout.TotalMilliseconds + 1000;
}
