namespace LlmWorkflow.Worker.Webhooks;

/// <summary>The record of one HTTP attempt: what the receiver answered (or why nothing was sent) and how long it took.</summary>
internal sealed record WebhookSendResult(
    WebhookSendOutcome Outcome,
    int? HttpStatus,
    string? ResponseBody,
    string? Error,
    int DurationMs,
    TimeSpan? RetryAfter = null)
{
    public static WebhookSendResult NotSent(string error) => new(WebhookSendOutcome.PermanentFailure, null, null, error, 0);
}
