using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Worker;

/// <summary>
/// Reads the dispatch streams' depth and oldest-entry age every <see cref="Interval"/> for the queue gauges
/// (<c>llmworkflow.queue.depth</c>, <c>llmworkflow.queue.oldest_age</c>), and the parked jobs every
/// <see cref="ParkedInterval"/> (<c>llmworkflow.jobs.parked</c>: a count over PostgreSQL, so less often). Its Redis
/// calls are background polling and are not traced.
/// </summary>
internal sealed partial class QueueMetricsService(QueueDepthReader reader, Storage.Jobs.JobLifecycleStore store, ILogger<QueueMetricsService> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan ParkedInterval = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        var ticks = 0L;
        try
        {
            do
            {
                try
                {
                    QueueReading.Current.Update(await reader.ReadAsync(stoppingToken));
                    if (ticks++ % (long)(ParkedInterval / Interval) == 0)
                    {
                        ParkedJobsReading.Current.Update(await store.CountParkedAsync(stoppingToken));
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogReadFailed(ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reading the queue depth failed; will retry")]
    private partial void LogReadFailed(Exception ex);
}
