using LlmWorkflow.Pipeline.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// How long the consumer waits before claiming a batch it has read (<see cref="WorkerOptions.BatchLinger"/>): a
/// small batch read while entries keep arriving waits until <see cref="WorkerOptions.BatchLinger"/> after the
/// previous claim, so a worker under a steady flow claims at most that often and each claim carries more jobs. A
/// full batch, or the first batch after a quiet spell (nothing claimed for that long), is claimed at once.
/// </summary>
internal sealed class ClaimLinger(WorkerOptions options, TimeProvider time)
{
    private DateTimeOffset? _previousClaim;

    /// <summary>The wait before claiming <paramref name="read"/> entries read with <paramref name="free"/> slots free; records the claim.</summary>
    public TimeSpan Before(int read, int free)
    {
        if (read == 0)
        {
            return TimeSpan.Zero;
        }

        var now = time.GetUtcNow();
        var wait = TimeSpan.Zero;
        if (_previousClaim is { } previous && read < Math.Min(free, options.BatchTarget) && now - previous < options.BatchLinger)
        {
            wait = options.BatchLinger - (now - previous);
        }

        _previousClaim = now + wait;
        return wait;
    }
}
