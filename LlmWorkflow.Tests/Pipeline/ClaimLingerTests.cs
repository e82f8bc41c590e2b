using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// When the consumer waits before its next read: only after a small read, and only until
/// <see cref="WorkerOptions.BatchLinger"/> after it.
/// </summary>
public sealed class ClaimLingerTests
{
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(50);
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void TheFirstReadGoesAtOnce() => Assert.Equal(TimeSpan.Zero, Create().BeforeRead());

    [Fact]
    public void AfterASmallReadTheNextWaitsUntilTheLingerHasPassed()
    {
        var linger = Create();
        linger.Read(read: 5, free: 256);

        _clock.Advance(TimeSpan.FromMilliseconds(20));
        Assert.Equal(TimeSpan.FromMilliseconds(30), linger.BeforeRead());

        _clock.Advance(TimeSpan.FromMilliseconds(30));
        Assert.Equal(TimeSpan.Zero, linger.BeforeRead());
    }

    [Fact]
    public void AfterAFullReadTheNextGoesAtOnce()
    {
        var linger = Create();
        linger.Read(read: 64, free: 256); // the batch target
        Assert.Equal(TimeSpan.Zero, linger.BeforeRead());

        linger.Read(read: 10, free: 10); // every free slot
        Assert.Equal(TimeSpan.Zero, linger.BeforeRead());
    }

    [Fact]
    public void AfterAnEmptyReadTheNextGoesAtOnce()
    {
        var linger = Create();
        linger.Read(read: 1, free: 64);
        linger.Read(read: 0, free: 64); // the block timeout passed: a quiet spell
        Assert.Equal(TimeSpan.Zero, linger.BeforeRead());
    }

    [Fact]
    public void AZeroLingerNeverWaits()
    {
        var linger = Create(TimeSpan.Zero);
        linger.Read(read: 1, free: 64);
        Assert.Equal(TimeSpan.Zero, linger.BeforeRead());
    }

    private ClaimLinger Create(TimeSpan? linger = null) =>
        new(new WorkerOptions { BatchLinger = linger ?? Linger, BatchTarget = 64 }, _clock);
}
