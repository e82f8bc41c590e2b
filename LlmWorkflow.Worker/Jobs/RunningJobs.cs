using System.Collections.Concurrent;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The jobs this worker is running, each with a token that stops it. <see cref="StopCancelledAsync"/> asks Postgres
/// in one query which of them were cancelled or deleted since, so a cancel reaches a running job within one poll
/// interval (the worker polls twice a second) without any worker-to-worker messaging.
/// </summary>
/// <remarks>
/// It also keeps their leases: every <see cref="WorkerOptions.LeaseDuration"/> / 3, one statement for all of them
/// (<see cref="RenewLeasesAsync"/>; not a timer and a statement per job), so a lease always has at least two thirds of
/// its duration left. A job this worker no longer owns is stopped. While PostgreSQL is unreachable the jobs keep running
/// (a held result waits for it): nobody can take a job over meanwhile, and the next renewal after it returns succeeds
/// (it checks the owner, not the expiry).
/// </remarks>
internal sealed partial class RunningJobs(
    JobLifecycleStore store,
    IOptions<WorkerOptions> options,
    ILogger<RunningJobs> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();

    public int Count => _running.Count;

    public void Add(Guid jobId, CancellationTokenSource stop) => _running[jobId] = stop;

    public void Remove(Guid jobId) => _running.TryRemove(jobId, out _);

    /// <summary>Stops the job's run if it runs here (a cancel announced over Redis).</summary>
    public void Stop(Guid jobId)
    {
        if (_running.TryGetValue(jobId, out var stop))
        {
            stop.Cancel();
        }
    }

    /// <summary>Cancels the runs whose job has a cancel request or no longer exists; returns how many.</summary>
    public async Task<int> StopCancelledAsync(CancellationToken cancellationToken)
    {
        if (_running.IsEmpty)
        {
            return 0;
        }

        var stopped = 0;
        foreach (var id in await store.StopRequestedAsync(_running.Keys.ToArray(), cancellationToken))
        {
            if (_running.TryGetValue(id, out var stop))
            {
                await stop.CancelAsync();
                stopped++;
            }
        }

        return stopped;
    }

    /// <summary>
    /// Extends the lease of every running job; stops the runs of the jobs this worker no longer owns (cancelled,
    /// deleted, or reclaimed after a stall: their Finish would lose anyway). Returns how many were stopped.
    /// </summary>
    public async Task<int> RenewLeasesAsync(string workerId, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (_running.IsEmpty)
        {
            return 0;
        }

        var ids = _running.Keys.ToArray();
        var owned = await store.RenewLeasesAsync(ids, workerId, lease, cancellationToken);
        var stopped = 0;
        foreach (var id in ids)
        {
            if (!owned.Contains(id) && _running.TryGetValue(id, out var stop))
            {
                await stop.CancelAsync();
                stopped++;
            }
        }

        return stopped;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var worker = options.Value;
        using var timer = new PeriodicTimer(worker.LeaseDuration / 3);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RenewLeasesAsync(worker.Id, worker.LeaseDuration, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogRenewalFailed(ex, Count);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not renew the leases of {Count} running job(s)")]
    private partial void LogRenewalFailed(Exception ex, int count);
}
