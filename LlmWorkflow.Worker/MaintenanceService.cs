using Microsoft.Extensions.Options;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Worker;

/// <summary>
/// Checks every <see cref="MaintenanceOptions.CheckInterval"/> whether scheduled maintenance (stale cleanup,
/// retention) is due and runs it when this worker wins the advisory lock; see <see cref="ScheduledMaintenance"/>.
/// </summary>
internal sealed partial class MaintenanceService(
    ScheduledMaintenance maintenance,
    IOptions<MaintenanceOptions> maintenanceOptions,
    IOptions<WorkerOptions> workerOptions,
    ILogger<MaintenanceService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!maintenanceOptions.Value.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(maintenanceOptions.Value.CheckInterval);
        try
        {
            do
            {
                try
                {
                    await maintenance.RunIfDueAsync(workerOptions.Value.Id, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogCheckFailed(ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scheduled maintenance could not run; will retry")]
    private partial void LogCheckFailed(Exception ex);
}
