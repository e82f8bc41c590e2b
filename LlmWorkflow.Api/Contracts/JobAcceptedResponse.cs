namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// The 202 answer to a submission: where to poll and roughly how long until a worker starts it (for a scheduled job,
/// the time until its <c>run_at</c> plus that).
/// </summary>
public sealed record JobAcceptedResponse(
    Guid JobId,
    string Status,
    string WorkflowName,
    DateTimeOffset CreatedAt,
    string StatusUrl,
    int EstimatedWaitSeconds,
    DateTimeOffset? RunAt = null)
{
    /// <summary>Document 000's dispatch id (its Celery task id); here it equals <c>job_id</c>.</summary>
    [System.ComponentModel.Description("Document 000's celery_task_id: the job's dispatch id, equal to job_id (kept for clients written from that document).")]
    public string CeleryTaskId { get; init; } = JobId.ToString();
}
