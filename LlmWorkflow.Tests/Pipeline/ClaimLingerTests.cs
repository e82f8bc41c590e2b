using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// When the consumer waits before claiming what it read: only a small batch read while entries keep arriving, and
/// only until <see cref="WorkerOptions.BatchLinger"/> after the previous claim.
/// </summary>
public sealed class ClaimLingerTests
{
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(20);
    private readonly ManualClock _clock = new();

    [Fact]
    public void TheFirstReadAndAReadAfterAQuietSpellAreClaimedAtOnce()
    {
        var linger = Create();
        Assert.Equal(TimeSpan.Zero, linger.Before(read: 1, free: 64));

        _clock.Advance(Linger);
        Assert.Equal(TimeSpan.Zero, linger.Before(read: 1, free: 64));
    }

    [Fact]
    public void ASmallReadInASteadyFlowWaitsUntilTheLingerAfterThePreviousClaim()
    {
        var linger = Create();
        linger.Before(read: 5, free: 256);

        _clock.Advance(TimeSpan.FromMilliseconds(6));
        var wait = linger.Before(read: 5, free: 256);
        Assert.Equal(TimeSpan.FromMilliseconds(14), wait);

        // The next claim is measured from the end of that wait, when the batch was claimed.
        _clock.Advance(wait + TimeSpan.FromMilliseconds(2));
        Assert.Equal(TimeSpan.FromMilliseconds(18), linger.Before(read: 3, free: 256));
    }

    [Fact]
    public void AFullBatchIsClaimedAtOnce()
    {
        var linger = Create();
        linger.Before(read: 1, free: 256);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(TimeSpan.Zero, linger.Before(read: 64, free: 256)); // the batch target
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(TimeSpan.Zero, linger.Before(read: 10, free: 10)); // every free slot
    }

    [Fact]
    public void AnEmptyReadNeitherWaitsNorCountsAsAClaim()
    {
        var linger = Create();
        Assert.Equal(TimeSpan.Zero, linger.Before(read: 0, free: 64));
        Assert.Equal(TimeSpan.Zero, linger.Before(read: 1, free: 64));

        _clock.Advance(TimeSpan.FromMilliseconds(5));
        Assert.Equal(TimeSpan.Zero, linger.Before(read: 0, free: 64));
        Assert.Equal(TimeSpan.FromMilliseconds(15), linger.Before(read: 1, free: 64));
    }

    [Fact]
    public void AZeroLingerNeverWaits()
    {
        var linger = Create(TimeSpan.Zero);
        linger.Before(read: 1, free: 64);
        Assert.Equal(TimeSpan.Zero, linger.Before(read: 1, free: 64));
    }

    private ClaimLinger Create(TimeSpan? linger = null) =>
        new(new WorkerOptions { BatchLinger = linger ?? Linger, BatchTarget = 64 }, _clock);

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

        public void Advance(TimeSpan by) => _now += by;

        public override DateTimeOffset GetUtcNow() => _now;
    }
}
