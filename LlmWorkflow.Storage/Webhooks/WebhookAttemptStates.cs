namespace LlmWorkflow.Storage.Webhooks;

/// <summary>Values of <c>llm_webhook_attempts.state</c>.</summary>
public static class WebhookAttemptStates
{
    /// <summary>Due at <c>next_retry_at</c>, not yet attempted (or claimed by a dispatcher right now).</summary>
    public const string Pending = "pending";

    public const string Delivered = "delivered";

    /// <summary>This attempt failed; a later attempt row is scheduled.</summary>
    public const string Failed = "failed";

    /// <summary>This attempt failed and no retry is left (or retrying cannot help); replayable by an admin.</summary>
    public const string DeadLettered = "dead_lettered";

    /// <summary>The receiver answered 410 Gone: no further retries for this event.</summary>
    public const string Gone = "gone";
}
