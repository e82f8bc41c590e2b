using Microsoft.Extensions.Options;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Worker;

/// <summary>
/// Keeps the leases of this worker's running jobs: every <see cref="WorkerOptions.LeaseDuration"/> / 3, one statement
/// for all of them (not a timer and a statement per job), so a lease always has at least two thirds of its duration
/// left. A job this worker no longer owns is stopped. While PostgreSQL is unreachable the jobs keep running (a held
/// result waits for it): nobody can take a job over meanwhile, and the next renewal after it returns succeeds (it
/// checks the owner, not the expiry).
/// </summary>
internal sealed partial class LeaseRenewalService(
    RunningJobs running,
    IOptions<WorkerOptions> options,
    ILogger<LeaseRenewalService> logger) : BackgroundService
{
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
                    await running.RenewLeasesAsync(worker.Id, worker.LeaseDuration, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogRenewalFailed(ex, running.Count);
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
