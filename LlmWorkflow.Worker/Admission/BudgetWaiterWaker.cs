using LlmWorkflow.Storage.Admission;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Worker.Jobs;
using StackExchange.Redis;

namespace LlmWorkflow.Worker.Admission;

/// <summary>
/// Wakes jobs parked on a provider budget when it frees up, pushed, not polled: a released concurrency slot or a
/// resumed provider is announced over Redis (<see cref="RedisAdmissionStore.ReleasedChannel"/>); this makes the
/// highest-priority waiters of that scope due now and tells the due-job waker, which queues them. A lost notice costs
/// only time: every budget wait has a due time of its own (Llm:Admission:ReleaseWait at most). A settled dollar
/// reservation (<see cref="RedisSpendStore.SettledChannel"/>) wakes one job parked because of unsettled reservations on
/// that budget (reason <c>usd_reserved</c>); a job parked because the window's spend is full is not woken by it, since a
/// settlement only adds spend.
/// </summary>
internal sealed partial class BudgetWaiterWaker(
    IConnectionMultiplexer redis,
    RedisAdmissionStore admission,
    RedisSpendStore spend,
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
                await spend.SubscribeSettledAsync(scopes => _ = HurryAsync(scopes, 1, "usd_reserved", stoppingToken));
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
        if (RedisAdmissionStore.ReadNotice(message) is { } notice)
        {
            await HurryAsync(notice.Scopes, notice.Wake, reason: null, cancellationToken);
        }
    }

    private async Task HurryAsync(string[] scopes, int wake, string? reason, CancellationToken cancellationToken)
    {
        if (scopes.Length == 0)
        {
            return;
        }

        try
        {
            if (await store.HurryBudgetWaitersAsync(scopes, wake, cancellationToken, reason) > 0)
            {
                waker.Announce(time.GetUtcNow());
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogHurryFailed(ex, string.Join(' ', scopes));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscribing to the admission's release notices failed; retrying")]
    private partial void LogSubscribeFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waking the jobs waiting for the budget of {Scopes} failed; they wake at their own due time")]
    private partial void LogHurryFailed(Exception ex, string scopes);
}
