using LlmWorkflow.Pipeline.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Paces a worker's reads under a steady flow (<see cref="WorkerOptions.BatchLinger"/>): after a small read (fewer
/// than <see cref="WorkerOptions.BatchTarget"/> entries and fewer than the free slots), the next read waits until
/// that long after it, so what arrives meanwhile is claimed in one batch. After a full read, an empty one (a quiet
/// spell) or once the pace has passed, the next read goes at once. The wait comes before the read, so nothing is
/// read and unclaimed while the worker waits.
/// </summary>
internal sealed class ClaimLinger(WorkerOptions options, TimeProvider time)
{
    private DateTimeOffset _previousRead;
    private bool _previousWasSmall;

    /// <summary>How long to wait before the next read.</summary>
    public TimeSpan BeforeRead()
    {
        if (!_previousWasSmall)
        {
            return TimeSpan.Zero;
        }

        var since = time.GetUtcNow() - _previousRead;
        return since < options.BatchLinger ? options.BatchLinger - since : TimeSpan.Zero;
    }

    /// <summary>Records a read of <paramref name="read"/> entries made with <paramref name="free"/> slots free.</summary>
    public void Read(int read, int free)
    {
        _previousRead = time.GetUtcNow();
        _previousWasSmall = read > 0 && read < Math.Min(free, options.BatchTarget);
    }
}
