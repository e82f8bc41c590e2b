using Microsoft.Extensions.Options;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Worker;

/// <summary>
/// Beside the consumer: it stops a running job as soon as its cancel is announced over Redis, and, as the safety net for
/// a notice lost, every 500 ms stops running jobs that were cancelled or deleted; every 5 s it refreshes this worker's heartbeat (id, host, start time, in-flight count) that /health and the dashboard read, and with the tenants' slot shares on reads every live worker's slots.
/// </summary>
internal sealed partial class WorkerPresenceService(
    RunningJobs running,
    JobQueue queue,
    WorkerHeartbeats heartbeats,
    ProviderHealthReports providerReports,
    LlmWorkflow.Engine.Llm.ProviderHealthTracker providerHealth,
    LlmWorkflow.Engine.Llm.LlmProviderRegistry providers,
    DispatchReadHealth dispatchHealth,
    TenantSlotShares slotShares,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    ILogger<WorkerPresenceService> logger) : BackgroundService
{
    private static readonly TimeSpan CancelPollInterval = TimeSpan.FromMilliseconds(500);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = time.GetUtcNow();
        await WatchCancelsAsync(stoppingToken);
        var nextBeat = DateTimeOffset.MinValue;
        string? reportedDispatchError = null;
        using var timer = new PeriodicTimer(CancelPollInterval);
        try
        {
            do
            {
                try
                {
                    await running.StopCancelledAsync(stoppingToken);
                    // A change of the dispatch state is reported at once, not at the next beat: /health follows it.
                    var dispatchError = dispatchHealth.Error;
                    if (time.GetUtcNow() >= nextBeat || dispatchError != reportedDispatchError)
                    {
                        await heartbeats.BeatAsync(new WorkerHeartbeat(
                            options.Value.Id, Environment.MachineName, Environment.ProcessId, started, time.GetUtcNow(),
                            running.Count, options.Value.MaxConcurrentJobs, dispatchError));
                        reportedDispatchError = dispatchError;
                        nextBeat = time.GetUtcNow() + WorkerHeartbeats.Interval;
                        if (slotShares.Enabled)
                        {
                            slotShares.Saw(await heartbeats.ListAsync(), options.Value.MaxConcurrentJobs);
                        }

                        await PublishProviderHealthAsync();
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogPresenceFailed(ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        try
        {
            // Bounded: at a whole-system stop (the AppHost's Ctrl+C) redis-server may already be gone, and each command
            // would then wait out the client's 5-s timeout, holding the worker's exit; what is left behind expires by age.
            await Task.WhenAll(heartbeats.RemoveAsync(options.Value.Id), providerReports.RemoveAsync(options.Value.Id)).WaitAsync(GoodbyeTimeout);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogPresenceFailed(ex);
        }
    }

    /// <summary>How long a stopping worker tries to take its heartbeat and provider report out of Redis.</summary>
    private static readonly TimeSpan GoodbyeTimeout = TimeSpan.FromMilliseconds(500);

    /// <summary>This worker's provider calls of the last minutes, for the provider health view (nothing until it called one).</summary>
    private async Task PublishProviderHealthAsync()
    {
        var snapshot = providerHealth.Snapshot(provider => providers.Find(provider)?.BaseUrl?.ToString());
        if (snapshot.Models.Count > 0)
        {
            await providerReports.PublishAsync(options.Value.Id, snapshot);
        }
    }

    private async Task WatchCancelsAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // StackExchange.Redis renews the subscription after a reconnect.
                await queue.WatchCancelsAsync(running.Stop);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Redis unreachable at start: the poll below still stops cancelled jobs; try again shortly.
                LogPresenceFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cancel polling or heartbeat failed; retrying")]
    private partial void LogPresenceFailed(Exception ex);
}
