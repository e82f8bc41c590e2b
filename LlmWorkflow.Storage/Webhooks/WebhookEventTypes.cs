using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Storage.Webhooks;

/// <summary>The event names sent in <c>X-Webhook-Event</c> and the payload's <c>event</c> field.</summary>
public static class WebhookEventTypes
{
    public const string Completed = "workflow.completed";

    public const string Failed = "workflow.failed";

    public const string Cancelled = "workflow.cancelled";

    /// <summary>Opt-in: sent only when the job's <c>webhook_events</c> lists it.</summary>
    public const string StepCompleted = "workflow.step_completed";

    /// <summary>Opt-in: the job parked at a sleep, a wait_for_event or an approval step (what it waits for, an approval's links).</summary>
    public const string Waiting = "workflow.waiting";

    /// <summary>Every name a job's <c>webhook_events</c> may list; a submission naming another is refused (400).</summary>
    public static readonly IReadOnlyList<string> All = [Completed, Failed, Cancelled, StepCompleted, Waiting];

    /// <summary>The terminal event for a finished job; null while the job is not finished.</summary>
    public static string? ForStatus(JobStatus status) => status switch
    {
        JobStatus.Completed => Completed,
        JobStatus.Failed => Failed,
        JobStatus.Cancelled => Cancelled,
        _ => null,
    };
}
