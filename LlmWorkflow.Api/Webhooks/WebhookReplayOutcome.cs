namespace LlmWorkflow.Api.Webhooks;

/// <summary>What a replay request for one job did.</summary>
public enum WebhookReplayOutcome
{
    /// <summary>The job has no webhook event (unknown job, no webhook_url, or not finished).</summary>
    NothingToReplay,

    /// <summary>The job's latest event already has an attempt waiting; replaying would send it twice.</summary>
    AlreadyPending,

    Replayed,
}

/// <summary>The result of a replay: the new attempt when one was scheduled.</summary>
public sealed record WebhookReplay(WebhookReplayOutcome Outcome, WebhookAttemptView? Attempt);
