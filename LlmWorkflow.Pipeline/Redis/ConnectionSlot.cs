namespace LlmWorkflow.Pipeline.Redis;

/// <summary>
/// One place in the shared pool: hands out its live connection, or starts (once, for all concurrent callers)
/// a replacement when there is none or it has dropped.
/// </summary>
internal sealed class ConnectionSlot(Func<Task<RedisConnection>> connect) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private Task<RedisConnection>? _current;

    public Task<RedisConnection> GetAsync()
    {
        var current = Volatile.Read(ref _current);
        if (IsLive(current))
        {
            return current!;
        }
        lock (_lock)
        {
            if (_current is { IsCompleted: false } || IsLive(_current))
            {
                return _current!;
            }
            if (_current is { IsCompletedSuccessfully: true })
            {
                _ = _current.Result.DisposeAsync().AsTask(); // already faulted: this only releases its resources
            }
            _current = connect();
            return _current;
        }
    }

    private static bool IsLive(Task<RedisConnection>? task) => task is { IsCompletedSuccessfully: true } && task.Result.IsConnected;

    public async ValueTask DisposeAsync()
    {
        Task<RedisConnection>? current;
        lock (_lock)
        {
            current = _current;
            _current = null;
        }
        if (current is not null)
        {
            try
            {
                await (await current.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or OperationCanceledException)
            {
                // It never connected; nothing to release.
            }
        }
    }
}
