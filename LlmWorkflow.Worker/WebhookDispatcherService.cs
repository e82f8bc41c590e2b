using Microsoft.Extensions.Options;
using LlmWorkflow.Pipeline.Webhooks;
using LlmWorkflow.Worker.Webhooks;

namespace LlmWorkflow.Worker;

/// <summary>
/// Delivers webhooks from the Postgres outbox, off the jobs' path: rounds back to back while there is a backlog,
/// otherwise one round per poll interval. Every worker runs one; claims are exclusive, so they share the work.
/// </summary>
internal sealed partial class WebhookDispatcherService(
    WebhookDispatcher dispatcher,
    IOptions<WebhookOptions> options,
    ILogger<WebhookDispatcherService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var poll = options.Value.PollInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimed = 0;
            try
            {
                claimed = await dispatcher.DispatchDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogRoundFailed(ex);
            }

            if (claimed < options.Value.BatchSize)
            {
                try
                {
                    await Task.Delay(poll, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook dispatch round failed; will retry")]
    private partial void LogRoundFailed(Exception ex);
}
