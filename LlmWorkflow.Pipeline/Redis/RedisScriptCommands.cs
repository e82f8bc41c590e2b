using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace LlmWorkflow.Pipeline.Redis;

/// <summary>Lua scripts, sent by SHA1 and only in full when the server does not have them cached yet.</summary>
internal static class RedisScriptCommands
{
    private static readonly ConcurrentDictionary<string, string> Sha1ByScript = new(StringComparer.Ordinal);

    /// <summary>
    /// EVALSHA of the script's SHA1; on NOSCRIPT (first use, or after a restart or SCRIPT FLUSH) falls back to EVAL,
    /// which also caches the script on the server. Script errors throw <see cref="RedisServerException"/>.
    /// </summary>
    public static async Task<RedisValue> ScriptEvaluateAsync(
        this IRedisClient redis, string script, IReadOnlyList<string> keys, IReadOnlyList<object> args, CancellationToken ct = default)
    {
        var sha1 = Sha1ByScript.GetOrAdd(script, static text => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text))));
        List<object> tail = [keys.Count, .. keys, .. args];
        try
        {
            return await redis.ExecuteAsync("EVALSHA", [sha1, .. tail], ct).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Code == "NOSCRIPT")
        {
            return await redis.ExecuteAsync("EVAL", [script, .. tail], ct).ConfigureAwait(false);
        }
    }
}
