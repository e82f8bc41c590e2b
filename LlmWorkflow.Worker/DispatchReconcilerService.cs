using Microsoft.Extensions.Options;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Worker;

/// <summary>
/// Runs <see cref="DispatchReconciler.ReconcileAsync"/> every <see cref="WorkerOptions.ReconcileInterval"/>: Postgres
/// alone decides whether a job exists, and jobs whose stream entry may be missing (Redis lost its data, or the API
/// could not reach Redis when it accepted the job) are dispatched again. A duplicate entry is harmless: the claim in
/// Postgres lets only one worker run a job.
/// </summary>
internal sealed partial class DispatchReconcilerService(
    DispatchReconciler reconciler,
    IOptions<WorkerOptions> options,
    ILogger<DispatchReconcilerService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ReconcileInterval);
        do
        {
            try
            {
                // A pass is a backstop that the next worker repeats, so a stop abandons it rather than wait for a Redis
                // command that the gone redis-server of a whole-system stop answers only by the client's timeout.
                var count = await reconciler.ReconcileAsync(stoppingToken).WaitAsync(stoppingToken);
                if (count > 0)
                {
                    LogRedispatched(count);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailed(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).AsTask().ContinueWith(t => !t.IsCanceled && t.Result, TaskScheduler.Default));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-dispatched {Count} job(s) whose dispatch entry may be missing")]
    private partial void LogRedispatched(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispatch reconciliation failed; will retry")]
    private partial void LogFailed(Exception ex);
}
