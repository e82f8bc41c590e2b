namespace LlmWorkflow.Pipeline.Redis;

/// <summary>
/// Spaces out connection attempts after failures (exponential, capped, with jitter) so a down server is not
/// hammered; while waiting, callers fail fast instead of queueing. The first attempt after a success is immediate.
/// </summary>
internal sealed class ReconnectBackoff(TimeSpan initialDelay, TimeSpan maxDelay)
{
    private readonly Lock _lock = new();
    private int _failures;
    private long _retryAt;
    private Exception? _lastError;

    public void ThrowIfWaiting()
    {
        lock (_lock)
        {
            var wait = _retryAt - Environment.TickCount64;
            if (_failures > 0 && wait > 0)
            {
                throw new RedisConnectionException(
                    $"Redis is unreachable ({_lastError?.Message}); next connection attempt in {wait} ms.", _lastError);
            }
        }
    }

    public void Failed(Exception error)
    {
        lock (_lock)
        {
            _failures++;
            var delay = Math.Min(initialDelay.TotalMilliseconds * Math.Pow(2, Math.Min(_failures - 1, 20)), maxDelay.TotalMilliseconds);
            _retryAt = Environment.TickCount64 + (long)(delay * (0.8 + (Random.Shared.NextDouble() * 0.4)));
            _lastError = error;
        }
    }

    public void Succeeded()
    {
        lock (_lock)
        {
            _failures = 0;
            _lastError = null;
        }
    }
}
