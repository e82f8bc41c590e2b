using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Pipeline;

/// <summary>
/// Before a host takes work, runs the cold paths of that work once, so its first requests or jobs do not pay for them
/// together: the JIT of code with no ReadyToRun form, the first connection of a pool, each statement's first round trip,
/// and the first garbage collection's copying of what start-up left alive (collected once per process).
/// Hosted services start in order, so a warm-up registered before Kestrel or the job consumer finishes before they
/// start. Best effort and bounded: a dependency that is down at start delays the host by at most <see cref="Limit"/>
/// and fails nothing (the first work then pays as before); a warm-up writes nothing.
/// </summary>
/// <param name="firstWork">What the warm-up is for, as its log lines name it, e.g. <c>requests</c>.</param>
public abstract partial class StartupWarmup(ILogger logger, string firstWork) : IHostedService
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);
    private static int _startupCollected;

    /// <summary>The work's cold paths, run once; <paramref name="cancellationToken"/> fires at <see cref="Limit"/>.</summary>
    protected abstract Task WarmUpAsync(CancellationToken cancellationToken);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Limit);
        var started = TimeProvider.System.GetTimestamp();
        try
        {
            await WarmUpAsync(limit.Token);
            // Start-up leaves its containers, metadata and caches alive in gen0: promoted now, they are not copied by the
            // first collection under load, which paused S1's burst for 32-41 ms (bench/README.md). Once per process: a
            // second host in the same process (the tests run hundreds) has no process start-up to collect.
            if (Interlocked.Exchange(ref _startupCollected, 1) == 0)
            {
                CollectStartupGarbage();
            }

            LogWarm(logger, firstWork, TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogNotWarm(logger, ex, firstWork);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// One full, blocking collection, so that what start-up left alive is promoted before the host takes work. Also
    /// called by the API's server after its rehearsals, which run after every warm-up (<c>RehearsingServer</c>).
    /// </summary>
    public static void CollectStartupGarbage() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm for the first {Work} in {Milliseconds:F0} ms")]
    private static partial void LogWarm(ILogger logger, string work, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm-up incomplete (a dependency is not reachable yet); the first {Work} will pay for it")]
    private static partial void LogNotWarm(ILogger logger, Exception ex, string work);
}
