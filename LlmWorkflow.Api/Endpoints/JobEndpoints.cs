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

/// <summary>Submission and status routes of the v1 contract.</summary>
internal static partial class JobEndpoints
{
    internal const string JobProblemDescription =
        "404 for an unknown job (or another tenant's or user's); 410 Gone for a deleted job during the retention period. Both bodies " +
        "are problem+json whose status is a string, never a number (callers read a job's status from it): \"not_found\" on 404, " +
        "\"failed\" on 410 (with deleted_at and error.type job_deleted), so pollers that stop on completed/failed stop; the HTTP " +
        "status is in http_status.";

    public static RouteGroupBuilder MapJobEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/workflow", SubmitAsync)
            .WithName("SubmitWorkflow")
            .WithSummary("Submit a workflow run")
            .WithDescription("Validates the workflow name and input against the workflow's input_schema, stores the job and queues it. " +
                             "Returns 202 with the job id at once. A repeated Idempotency-Key (same tenant and user) with the same body gets the " +
                             "original answer again: 202 with the same body (created_at, status and estimated_wait_seconds as first answered), " +
                             "whatever the job's status is now; the same key with a different body is a 422 problem (error idempotency_key_conflict).");
        api.MapPost("/jobs", SubmitAsync)
            .WithName("SubmitJob")
            .WithSummary("Submit a workflow run (alias of POST /api/v1/workflow)");

        api.MapGet("/status/{jobId:guid}", GetStatusAsync)
            .WithName("GetJobStatus")
            .WithSummary("Status, progress, per-step records, result and cost data of a job")
            .WithDescription(JobProblemDescription);
        api.MapGet("/jobs/{jobId:guid}", GetStatusAsync)
            .WithName("GetJob")
            .WithSummary("Same as GET /api/v1/status/{job_id}")
            .WithDescription(JobProblemDescription);

        api.MapGet("/jobs", ListAsync)
            .WithName("ListJobs")
            .WithSummary("List jobs (newest first unless sorted)")
            .WithDescription("Filters: status_filter (all|running|pending|queued|processing|completed|failed|cancelled|scheduled; running = processing), user_id, limit (1-200, default 50), " +
                             "offset, limit_results: a count \"1\"-\"500\" (overrides limit) or a period \"Today\" (since 00:00 UTC), \"7 Days\", \"30 Days\"; " +
                             "workflow_name (exact); schedule_id: the jobs a schedule's ticks started; search: part of the job id (a prefix, or the short id the dashboard shows), username, user id, action or input_data (its JSON text) (case-insensitive); " +
                             "username (exact); model, usage_from, usage_to (ISO 8601, years 2000-9000): only jobs with an LLM call (of that model) recorded in [usage_from, usage_to), " +
                             "the rows GET /admin/usage sums, so a figure of the usage report drills down to its jobs. " +
                             "Order: sort (created_at|status|workflow_name|username|priority|duration_ms|total_tokens|cost_usd, default created_at) and order (asc|desc, default desc); " +
                             "ties are broken by created time and job id, so offset pages neither repeat nor skip a job; empty durations sort last. " +
                             "Keyset paging (created_at order only): a full page carries next_cursor; pass it as cursor (without offset) for the next page, which starts " +
                             "strictly after the previous page's last job, so jobs added or deleted meanwhile neither repeat nor skip one, and a deep page reads only its own rows. " +
                             "offset keeps working (it reads every skipped entry). " +
                             "Only the caller key's tenant's jobs are listed; user_id narrows within it (it cannot widen a key bound to a user or X-User-Id). " +
                             "Admin keys see every tenant and may filter with tenant_id. " +
                             $"total is exact up to {JobListCount.ExactUpTo:N0} matching jobs (or offset + limit, if larger); beyond that total_exact is false and total is a lower bound (more pages follow). " +
                             "Invalid values get 400 listing the valid ones; a bad limit_results also carries document 003's error: \"InvalidLimitResults\" and valid_values.");

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
        return api;
    }

    private static async Task<Results<Accepted<JobAcceptedResponse>, ValidationProblem, UnprocessableProblem>> SubmitAsync(
        SubmitWorkflowRequest request,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        JobSubmitter submitter,
        TimeProvider time,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.WorkflowName))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["workflow_name"] = ["workflow_name is required."] });
        }

        var headerUser = http.Request.Headers[CallerScope.UserHeader].FirstOrDefault();
        if (!string.IsNullOrEmpty(headerUser) && request.UserId is { Length: > 0 } bodyUser && bodyUser != headerUser && CallerScope.BoundUser(http) is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["user_id"] = [$"user_id must match the {CallerScope.UserHeader} header when both are sent."] });
        }

        var (runAt, timingProblems) = RunAtInput.Resolve(request.RunAt, request.DelaySeconds, time.GetUtcNow());
        var (tier, tierProblems) = ServiceTierInput.Resolve(request.ServiceTier, request.Deadline, runAt, time.GetUtcNow());
        if (timingProblems.Count > 0 || tierProblems.Count > 0)
        {
            return SubmissionProblem.ToResult([.. timingProblems, .. tierProblems]);
        }

        var activity = System.Diagnostics.Activity.Current;
        var scope = CallerScope.From(http);
        // A key bound to a user submits as that user whatever the request says.
        var userId = CallerScope.BoundUser(http) ?? (string.IsNullOrEmpty(headerUser) ? request.UserId : headerUser);
        var key = string.IsNullOrWhiteSpace(idempotencyKey) ? null : idempotencyKey;
        var submission = new JobSubmission
        {
            WorkflowName = request.WorkflowName,
            InputData = request.InputData ?? [],
            TenantId = scope.TenantId,
            UserId = userId,
            Username = request.Username,
            Action = request.Action,
            WebhookUrl = request.WebhookUrl,
            WebhookSecret = request.WebhookSecret,
            WebhookEvents = request.WebhookEvents,
            Priority = request.Priority ?? 0,
            DebugMode = request.DebugMode ?? false,
            BudgetUsd = request.BudgetUsd,
            IdempotencyKey = key,
            // The request as it acts: with the user it runs as, so a bound key's ignored user_id changes nothing.
            RequestFingerprint = key is null ? null : IdempotentRequests.Fingerprint(request with { UserId = userId }),
            RunAt = runAt,
            ServiceTier = tier,
            TraceParent = activity?.Id,
            TraceState = activity?.TraceStateString,
        };

        var result = await submitter.SubmitAsync(submission, cancellationToken);
        if (result.KeyConflict)
        {
            return IdempotentRequests.Conflict(key!, "submission");
        }

        if (result.Accepted is not { } body)
        {
            return SubmissionProblem.ToResult(result.Problems);
        }

        // A repeated Idempotency-Key gets the first answer again: the same 202, body and Location, marked as a replay.
        if (!result.Created)
        {
            IdempotentRequests.MarkReplayed(http.Response);
        }

        return TypedResults.Accepted(body.StatusUrl, body);
    }

    /// <summary>Whether the caller may see the job; null when there is no such job (row).</summary>
    internal static async Task<bool?> VisibleAsync(LlmWorkflowDbContext db, Guid jobId, HttpContext http, CancellationToken cancellationToken)
    {
        var scope = CallerScope.From(http);
        var owner = await db.Jobs.AsNoTracking().Where(j => j.Id == jobId).Select(j => new { j.TenantId, j.UserId }).FirstOrDefaultAsync(cancellationToken);
        return owner is null ? null : scope.CanSee(owner.TenantId, owner.UserId);
    }

    /// <summary>
    /// 410 for a job this caller could see that was deleted (its tombstone is kept for the retention period), else 404,
    /// also for another tenant's or user's job, which is reported exactly like a missing one.
    /// </summary>
    internal static async Task<JobProblemResult> MissingAsync(Guid jobId, bool noRow, DeletedJobs deletedJobs, HttpContext http, CancellationToken cancellationToken) =>
        noRow && await deletedJobs.FindAsync(jobId, cancellationToken) is { } deleted && CallerScope.From(http).CanSee(deleted.TenantId, deleted.UserId)
            ? new JobProblemResult(JobProblem.Gone(deleted))
            : new JobProblemResult(JobProblem.NotFound(jobId));
}
