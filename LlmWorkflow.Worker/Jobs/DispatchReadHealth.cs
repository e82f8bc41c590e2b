namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Whether this worker's last read of the dispatch streams failed, and why. The consumer sets it; the heartbeat carries
/// it (<c>dispatch_error</c>), so the API's <c>/health</c> reports dispatch as unhealthy while a worker cannot read.
/// </summary>
internal sealed class DispatchReadHealth
{
    private volatile string? _error;

    /// <summary>The last read's failure, or null when it succeeded.</summary>
    public string? Error => _error;

    public void Succeeded() => _error = null;

    public void Failed(Exception exception) => _error = $"{exception.GetType().Name}: {exception.Message}";
}
