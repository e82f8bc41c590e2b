using Microsoft.Extensions.Options;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Worker.Webhooks;

/// <summary>
/// When the next attempt of a failed delivery is due: attempt n (1-based) is followed by delay n of
/// <see cref="WebhookOptions.RetryDelays"/> with ±10% jitter (so receivers recovering from an outage are not hit in
/// lock-step), or later if the receiver's <c>Retry-After</c> (bounded) asks for it. Past the schedule there is no next attempt.
/// </summary>
internal sealed class WebhookRetrySchedule(IOptions<WebhookOptions> options)
{
    private const double Jitter = 0.10;

    /// <summary>Null when the attempt was the last one the schedule allows.</summary>
    public DateTimeOffset? NextAttemptAt(int attemptNumber, TimeSpan? retryAfter, DateTimeOffset now)
    {
        var delays = options.Value.RetryDelays;
        if (attemptNumber < 1 || attemptNumber > delays.Length)
        {
            return null;
        }

        var delay = delays[attemptNumber - 1] * (1 - Jitter + (2 * Jitter * Random.Shared.NextDouble()));
        if (retryAfter is { } requested)
        {
            var bounded = requested < options.Value.MaxRetryAfter ? requested : options.Value.MaxRetryAfter;
            delay = bounded > delay ? bounded : delay;
        }

        return now + delay;
    }
}
