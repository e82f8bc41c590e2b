namespace LlmWorkflow.Worker.Webhooks;

/// <summary>How one delivery attempt ended, which decides the attempt's state and whether to retry.</summary>
internal enum WebhookSendOutcome
{
    /// <summary>2xx.</summary>
    Delivered,

    /// <summary>410: the receiver asks not to send this event again.</summary>
    Gone,

    /// <summary>Network error, timeout, 3xx, 4xx, 5xx: retried on the schedule.</summary>
    RetryableFailure,

    /// <summary>Retrying cannot help (no signing secret, blocked destination): dead-lettered at once, replayable.</summary>
    PermanentFailure,
}
