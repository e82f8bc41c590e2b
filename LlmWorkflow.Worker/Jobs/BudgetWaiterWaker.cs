using LlmWorkflow.Pipeline.Admission;
using LlmWorkflow.Pipeline.Jobs;
using StackExchange.Redis;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Wakes jobs parked on a provider budget when it frees up, pushed, not polled: a released concurrency slot or a
/// resumed provider is announced over Redis (<see cref="RedisAdmissionStore.ReleasedChannel"/>); this makes the
/// highest-priority waiters of that scope due now and tells the due-job waker, which queues them. A lost notice costs
/// only time: every budget wait has a due time of its own (Llm:Admission:ReleaseWait at most).
/// </summary>
internal sealed partial class BudgetWaiterWaker(
    IConnectionMultiplexer redis,
    RedisAdmissionStore admission,
    JobLifecycleStore store,
    DueJobWaker waker,
    TimeProvider time,
    ILogger<BudgetWaiterWaker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // StackExchange.Redis renews the subscription after a reconnect.
                await redis.GetSubscriber().SubscribeAsync(admission.ReleasedChannel, (channel, message) => _ = HurryAsync(message, stoppingToken));
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogSubscribeFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task HurryAsync(RedisValue message, CancellationToken cancellationToken)
    {
        if (RedisAdmissionStore.ReadNotice(message) is not { } notice)
        {
            return;
        }

        try
        {
            if (await store.HurryBudgetWaitersAsync(notice.Scopes, notice.Wake, cancellationToken) > 0)
            {
                waker.Announce(time.GetUtcNow());
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogHurryFailed(ex, string.Join(' ', notice.Scopes));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscribing to the admission's release notices failed; retrying")]
    private partial void LogSubscribeFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waking the jobs waiting for the budget of {Scopes} failed; they wake at their own due time")]
    private partial void LogHurryFailed(Exception ex, string scopes);
}
