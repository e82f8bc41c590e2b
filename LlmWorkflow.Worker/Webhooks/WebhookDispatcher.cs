using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using LlmWorkflow.Engine;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Worker.Webhooks;

/// <summary>
/// Delivers webhooks from the Postgres outbox, off the jobs' path: rounds back to back while there is a backlog,
/// otherwise one round per poll interval. A round claims due attempts, signs and sends them concurrently, records each
/// result and schedules the next attempt or dead-letters the event. Everything it knows is in Postgres and claims are
/// exclusive, so every worker runs one and they share the work. Its parts: <see cref="WebhookDeliveryStore"/> (the
/// outbox's claim and record statements) and <see cref="WebhookSender"/> (the signed HTTP attempt).
/// </summary>
internal sealed partial class WebhookDispatcher(
    WebhookDeliveryStore store,
    WebhookSender sender,
    WebhookSecretProtector secretProtector,
    IOptions<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    /// <summary>What is recorded when neither the job nor the service has a signing secret.</summary>
    public const string NoSecretError =
        "No webhook secret: set LLM_WEBHOOK_SECRET (or Webhooks:Secret) or pass webhook_secret when submitting; unsigned webhooks are never sent.";

    // Past the attempt's own timeout, so a lease only lapses when its worker is gone.
    private static readonly TimeSpan LeaseMargin = TimeSpan.FromSeconds(30);

    // Each retry's delay varies by up to this share either way, so receivers recovering from an outage are not hit in lock-step.
    private const double RetryJitter = 0.10;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimed = 0;
            try
            {
                claimed = await DispatchDueAsync(stoppingToken);
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
                    await Task.Delay(options.Value.PollInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Delivers the due attempts of one batch; returns how many were claimed.</summary>
    public async Task<int> DispatchDueAsync(CancellationToken cancellationToken)
    {
        var batch = await store.ClaimDueAsync(options.Value.BatchSize, options.Value.Timeout + LeaseMargin, cancellationToken);
        await Task.WhenAll(batch.Select(delivery => DeliverAsync(delivery, cancellationToken)));
        return batch.Count;
    }

    /// <summary>One attempt in its own span (the outbox poll that found it is not traced), so its HTTP call shows.</summary>
    private async Task DeliverAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        using var span = Telemetry.ActivitySource.StartActivity("webhook.deliver " + delivery.EventType, System.Diagnostics.ActivityKind.Producer);
        span?.SetTag("llmworkflow.job_id", delivery.JobId.ToString());
        span?.SetTag("llmworkflow.webhook.event", delivery.EventType);
        span?.SetTag("llmworkflow.webhook.attempt", delivery.AttemptNumber);
        var attemptedAt = time.GetUtcNow();
        WebhookSendResult result;
        try
        {
            result = await SendAsync(delivery, attemptedAt, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down mid-attempt: hand the attempt back so another worker sends it now, not after the lease.
            await store.ReleaseAsync(delivery.AttemptId, CancellationToken.None);
            return;
        }
        catch (Exception ex)
        {
            result = new WebhookSendResult(WebhookSendOutcome.RetryableFailure, null, null, ex.Message, 0);
        }

        var (state, next) = result.Outcome switch
        {
            WebhookSendOutcome.Delivered => (WebhookAttemptStates.Delivered, null),
            WebhookSendOutcome.Gone => (WebhookAttemptStates.Gone, null),
            WebhookSendOutcome.PermanentFailure => (WebhookAttemptStates.DeadLettered, null),
            _ => NextAttemptAt(delivery.AttemptNumber, result.RetryAfter) is { } at
                ? (WebhookAttemptStates.Failed, at)
                : (WebhookAttemptStates.DeadLettered, (DateTimeOffset?)null),
        };
        await store.RecordAsync(delivery, result, attemptedAt, state, next, CancellationToken.None);
        Telemetry.WebhookDeliveries.Add(1,
            new KeyValuePair<string, object?>("event", delivery.EventType), new KeyValuePair<string, object?>("outcome", state));
        span?.SetTag("llmworkflow.webhook.outcome", state);
        span?.SetTag("http.response.status_code", result.HttpStatus);
        if (result.Outcome != WebhookSendOutcome.Delivered)
        {
            span.RecordFailure(state, result.Error ?? $"HTTP {result.HttpStatus}");
        }
        LogAttempt(result.Outcome == WebhookSendOutcome.Delivered ? LogLevel.Debug : LogLevel.Warning, delivery.JobId, delivery.EventType, delivery.EventId, delivery.AttemptNumber, state, result.HttpStatus, result.Error);
    }

    /// <summary>What is recorded when the job's stored secret cannot be decrypted (its key is gone from the ring).</summary>
    public const string UndecryptableSecretError =
        "The job's webhook_secret cannot be decrypted: its Data Protection key is missing from llm_data_protection_keys.";

    private Task<WebhookSendResult> SendAsync(WebhookDelivery delivery, DateTimeOffset timestamp, CancellationToken cancellationToken)
    {
        string? jobSecret;
        try
        {
            jobSecret = secretProtector.Unprotect(delivery.JobSecret);
        }
        catch (CryptographicException)
        {
            return Task.FromResult(WebhookSendResult.NotSent(UndecryptableSecretError));
        }

        var secrets = Secrets(jobSecret);
        if (secrets.Count == 0)
        {
            return Task.FromResult(WebhookSendResult.NotSent(NoSecretError));
        }

        // A terminal event is stored as a snapshot of the finished job and rendered here, identically on every attempt.
        var body = WebhookBodies.ToUtf8(delivery.PayloadJson);
        return sender.SendAsync(new WebhookRequest(delivery.WebhookUrl, delivery.EventId, delivery.EventType, body, secrets, timestamp), cancellationToken);
    }

    /// <summary>
    /// When the attempt after failed attempt <paramref name="attemptNumber"/> (1-based) is due: delay n of
    /// <see cref="WebhookOptions.RetryDelays"/> with jitter, or later if the receiver's <c>Retry-After</c> (bounded) asks
    /// for it. Null past the schedule: the event is dead-lettered.
    /// </summary>
    private DateTimeOffset? NextAttemptAt(int attemptNumber, TimeSpan? retryAfter)
    {
        var delays = options.Value.RetryDelays;
        if (attemptNumber < 1 || attemptNumber > delays.Length)
        {
            return null;
        }

        var delay = delays[attemptNumber - 1] * (1 - RetryJitter + (2 * RetryJitter * Random.Shared.NextDouble()));
        if (retryAfter is { } requested)
        {
            var bounded = requested < options.Value.MaxRetryAfter ? requested : options.Value.MaxRetryAfter;
            delay = bounded > delay ? bounded : delay;
        }

        return time.GetUtcNow() + delay;
    }

    /// <summary>The job's own secret alone, or the service secret followed by the ones being rotated out.</summary>
    private List<string> Secrets(string? jobSecret)
    {
        if (!string.IsNullOrEmpty(jobSecret))
        {
            return [jobSecret];
        }

        var service = options.Value;
        return string.IsNullOrEmpty(service.Secret)
            ? []
            : [service.Secret, .. service.PreviousSecrets.Where(s => !string.IsNullOrEmpty(s))];
    }

    // A delivery is Debug (a line per job beside the job's own); a failed attempt is a Warning.
    [LoggerMessage(
        Message = "Webhook {EventType} of job {JobId} (event {EventId}) attempt {AttemptNumber}: {State} (HTTP {HttpStatus}) {Error}")]
    private partial void LogAttempt(LogLevel level, Guid jobId, string eventType, string eventId, int attemptNumber, string state, int? httpStatus, string? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook dispatch round failed; will retry")]
    private partial void LogRoundFailed(Exception ex);
}
