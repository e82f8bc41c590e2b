using LlmWorkflow.Contracts;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Api.Jobs;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>The routes that act on a job: cancel, reschedule, bulk delete, retry.</summary>
internal static partial class JobEndpoints
{
    /// <summary>The routes that act on a job, in the order the OpenAPI document lists them.</summary>
    private static void MapCommandRoutes(RouteGroupBuilder api)
    {
        api.MapDelete("/workflow/{jobId:guid}", CancelAsync)
            .WithName("CancelJob")
            .WithSummary("Cancel a job")
            .WithDescription("A queued job is cancelled at once; a running job's worker stops it (in-flight LLM and HTTP calls are aborted) within about a second. " +
                             "Either way a workflow.cancelled webhook is sent. " + JobProblemDescription);

        api.MapDelete("/jobs/bulk", BulkDeleteAsync)
            .WithName("BulkDeleteJobs")
            .WithSummary("Delete jobs by id (queued and running ones are cancelled first)")
            .WithDescription("A queued or running job is cancelled first, as DELETE /api/v1/workflow/{job_id} does, so its workflow.cancelled " +
                             "webhook is sent (it is delivered after the job is gone); then the job, its steps and usage are deleted. " +
                             "A deleted job's status URL answers 410 Gone for the retention period (Maintenance:Retention, default 7 days), then 404.");

        api.MapPatch("/jobs/{jobId:guid}", RescheduleAsync)
            .WithName("RescheduleJob")
            .WithSummary("Move a scheduled job's run_at")
            .WithDescription("Body: run_at (RFC 3339 with an offset) or delay_seconds, as on submit. 200 with the job's status; " +
                             "409 when the job is not scheduled (it already started, finished or was cancelled); 400 naming the field for a " +
                             "bad, past or missing time. " + JobProblemDescription);

        api.MapPost("/jobs/{jobId:guid}/retry", RetryAsync)
            .WithName("RetryJob")
            .WithSummary("Queue a failed or cancelled job again, or rerun a finished one from a step")
            .WithDescription("The job resumes from its checkpoints: steps that finished before are not run (or paid for) again. " +
                             "With a body {\"from_step\": \"<top-level step id>\"} any finished job (completed too) runs again from that step: the steps " +
                             "before it keep their checkpointed outputs, it and every step after it run again; 400 names from_step when it is not a " +
                             "top-level step of the job's workflow. A rerun at or before a wait_for_event or approval step waits again: the signals " +
                             "those steps took are superseded (never taken again), so the wait takes only a newer untaken signal or parks anew, an " +
                             "approval with new decision links. The ended attempt is kept in previous_attempts with the cost_usd of its calls that the " +
                             "rerun does not reuse; the job's cost_usd counts every call paid over all attempts. " + JobProblemDescription);
    }

    private static async Task<Results<Ok<JobActionResponse>, Accepted<JobActionResponse>, JobProblemResult, Conflict<JobActionResponse>>> CancelAsync(
        Guid jobId,
        LlmWorkflowDbContext db,
        JobCommands commands,
        DeletedJobs deletedJobs,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (await VisibleAsync(db, jobId, http, cancellationToken) is not true and var visible)
        {
            return await MissingAsync(jobId, visible is null, deletedJobs, http, cancellationToken);
        }

        return await commands.CancelAsync(jobId, cancellationToken) switch
        {
            CancelOutcome.Cancelled => TypedResults.Ok(new JobActionResponse(jobId, "cancelled", "The job was waiting and is cancelled.")),
            CancelOutcome.CancelRequested => TypedResults.Accepted(JobMapping.StatusUrl(jobId),
                new JobActionResponse(jobId, "processing", "The job is running; its worker stops it within about a second.")),
            CancelOutcome.AlreadyFinished => TypedResults.Conflict(new JobActionResponse(jobId, "finished", "The job already finished; nothing to cancel.")),
            _ => await MissingAsync(jobId, true, deletedJobs, http, cancellationToken),
        };
    }

    private static async Task<Results<Ok<JobStatusResponse>, JobProblemResult, Conflict<JobActionResponse>, ValidationProblem>> RescheduleAsync(
        Guid jobId,
        [FromBody] RescheduleJobRequest request,
        LlmWorkflowDbContext db,
        JobLifecycleStore store,
        JobQueue queue,
        DeletedJobs deletedJobs,
        TimeProvider time,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (await VisibleAsync(db, jobId, http, cancellationToken) is not true and var visible)
        {
            return await MissingAsync(jobId, visible is null, deletedJobs, http, cancellationToken);
        }

        var (runAt, problems) = RunAtInput.Resolve(request.RunAt, request.DelaySeconds, time.GetUtcNow());
        if (runAt is not { } due)
        {
            return SubmissionProblem.ToResult(problems.Count > 0 ? problems : [new SubmissionProblem("run_at", "Send the new time as run_at (or delay_seconds).")]);
        }

        if (!await store.RescheduleAsync(jobId, due, cancellationToken))
        {
            return TypedResults.Conflict(new JobActionResponse(jobId, "not_scheduled", "The job is not scheduled any more (it started, finished or was cancelled); its time cannot change."));
        }

        try
        {
            // Only an earlier time needs telling: a waker sleeping until the old one finds nothing due then, and reads the next.
            await queue.AnnounceDueAsync(due).WaitAsync(TimeSpan.FromSeconds(1), cancellationToken);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            // The reconciler's pass wakes it when due.
        }

        var job = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId, cancellationToken);
        var steps = await db.JobSteps.AsNoTracking().Where(s => s.JobId == jobId).ToListAsync(cancellationToken);
        return TypedResults.Ok(job.ToStatus(steps));
    }

    private static async Task<Results<Ok<BulkDeleteResponse>, ValidationProblem>> BulkDeleteAsync(
        [FromBody] BulkDeleteRequest request,
        JobCommands commands,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (request.JobIds is not { Count: > 0 and <= 500 } ids)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["job_ids"] = ["job_ids must list 1 to 500 job ids."] });
        }

        var scope = CallerScope.From(http);
        var deleted = scope.Contradictory
            ? []
            : await commands.DeleteAsync(ids.Distinct().ToArray(), scope.TenantFilter, scope.IsAdmin ? null : scope.UserId, cancellationToken);
        var notFound = ids.Except(deleted).Distinct().ToArray();
        return TypedResults.Ok(new BulkDeleteResponse(deleted.Count, deleted, notFound));
    }

    private static async Task<Results<Accepted<JobActionResponse>, JobProblemResult, Conflict<JobActionResponse>, ValidationProblem>> RetryAsync(
        Guid jobId,
        [FromBody] RetryJobRequest? request,
        LlmWorkflowDbContext db,
        JobCommands commands,
        DeletedJobs deletedJobs,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (await VisibleAsync(db, jobId, http, cancellationToken) is not true and var visible)
        {
            return await MissingAsync(jobId, visible is null, deletedJobs, http, cancellationToken);
        }

        var fromStep = string.IsNullOrWhiteSpace(request?.FromStep) ? null : request.FromStep;
        return await commands.RetryAsync(jobId, fromStep, cancellationToken) switch
        {
            RetryOutcome.Requeued => TypedResults.Accepted(JobMapping.StatusUrl(jobId), new JobActionResponse(jobId, "queued", fromStep is null
                ? "Queued again; finished steps are reused from checkpoints."
                : $"Queued again from step \"{fromStep}\"; the steps before it are reused from checkpoints, it and those after it run again.")),
            RetryOutcome.NotRetryable => TypedResults.Conflict(new JobActionResponse(jobId, "not_retryable", fromStep is null
                ? "Only failed or cancelled jobs can be retried."
                : "Only a finished job can be rerun from a step; this one is still waiting or running.")),
            RetryOutcome.UnknownStep => SubmissionProblem.ToResult([new SubmissionProblem("from_step",
                $"\"{fromStep}\" is not a top-level step of the job's workflow.")]),
            _ => await MissingAsync(jobId, true, deletedJobs, http, cancellationToken),
        };
    }
}
