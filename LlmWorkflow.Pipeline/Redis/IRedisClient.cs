namespace LlmWorkflow.Pipeline.Redis;

/// <summary>
/// A Redis client: raw commands, pipelines and blocking commands. Typed commands are extension methods
/// (<see cref="RedisKeyCommands"/>, <see cref="RedisHashCommands"/>, <see cref="RedisStreamCommands"/>,
/// <see cref="RedisScriptCommands"/>), so another implementation (e.g. over StackExchange.Redis) only needs these three.
/// </summary>
public interface IRedisClient : IAsyncDisposable
{
    /// <summary>Runs one command on a shared connection; an error reply throws <see cref="RedisServerException"/>.</summary>
    Task<RedisValue> ExecuteAsync(string command, IReadOnlyList<object> args, CancellationToken ct = default);

    /// <summary>Sends the commands in one write and returns their replies in order; error replies are returned as values (<see cref="RedisValue.IsError"/>).</summary>
    Task<IReadOnlyList<RedisValue>> PipelineAsync(IReadOnlyList<RedisCommand> commands, CancellationToken ct = default);

    /// <summary>
    /// Runs a command that blocks server-side for up to <paramref name="block"/> (zero or less: indefinitely) on a
    /// dedicated connection, so shared connections never wait behind it. The reply timeout is block plus the command timeout.
    /// </summary>
    Task<RedisValue> ExecuteBlockingAsync(string command, IReadOnlyList<object> args, TimeSpan block, CancellationToken ct = default);
}
