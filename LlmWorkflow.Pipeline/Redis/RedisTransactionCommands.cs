namespace LlmWorkflow.Pipeline.Redis;

/// <summary>MULTI/EXEC: commands that Redis runs as one unit, with nothing else in between.</summary>
internal static class RedisTransactionCommands
{
    internal const string Multi = "MULTI";
    internal const string Exec = "EXEC";

    /// <summary>
    /// Sends the commands between MULTI and EXEC in one write and returns their replies in order (error replies as
    /// values, as <see cref="IRedisClient.PipelineAsync"/> does). Besides atomicity this matters to blocked readers:
    /// Redis serves a client blocked on a stream after each command, but after a transaction only once, at EXEC, so a
    /// worker blocked in XREADGROUP wakes with every entry of the transaction instead of the first one alone.
    /// A transaction Redis refused as a whole (EXECABORT) throws <see cref="RedisServerException"/>.
    /// </summary>
    public static async Task<IReadOnlyList<RedisValue>> TransactionAsync(
        this IRedisClient redis, IReadOnlyList<RedisCommand> commands, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(commands);
        if (commands.Count == 0)
        {
            return [];
        }

        var replies = await redis.PipelineAsync([new RedisCommand(Multi, []), .. commands, new RedisCommand(Exec, [])], ct)
            .ConfigureAwait(false);
        var exec = replies[^1];
        if (exec.IsError)
        {
            // EXECABORT: a command was rejected while queuing; its own reply says why.
            var rejected = replies.Skip(1).Take(commands.Count).FirstOrDefault(r => r.IsError);
            throw new RedisServerException(rejected.IsError ? $"{exec.AsString()} ({rejected.AsString()})" : exec.AsString()!);
        }

        return exec.AsArray();
    }
}
