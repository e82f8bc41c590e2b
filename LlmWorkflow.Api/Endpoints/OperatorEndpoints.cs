using System.Security.Claims;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Api.Operators;
using LlmWorkflow.Api.Auth;
using WorkflowCatalog = LlmWorkflow.Engine.Definitions.WorkflowCatalog;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>
/// What an operator needs in a provider outage: pause and resume a workflow (operator-scoped: admin keys, every
/// tenant's jobs of the workflow), retry failed jobs by filter with a dry count first (tenant-scoped like every job
/// route), the provider health view, and the list of paused workflows.
/// </summary>
internal static class OperatorEndpoints
{
    /// <summary>The most jobs one bulk retry queues; the caller sends it again for the rest.</summary>
    public const int MaxBulkRetry = 1000;

    private const int MaxReasonLength = 500;

    private static readonly JobStatus[] RetryableStatuses = [JobStatus.Failed, JobStatus.Cancelled];

    public static RouteGroupBuilder MapOperatorEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/workflows/{name}/pause", PauseAsync)
            .RequireAuthorization(Auth.AuthServiceCollectionExtensions.AdminPolicy)
            .WithName("PauseWorkflow")
            .WithSummary("Pause a workflow (admin): hold its new and queued jobs, let running ones finish")
            .WithDescription("Operator-scoped: an admin key pauses the workflow for every tenant. New jobs are accepted (202, status \"scheduled\", " +
                             "run_at now) and wait without a worker slot; jobs queued but not yet started are held the same way; running jobs " +
                             "finish; due scheduled jobs and jobs waking from a sleep are held too. Pausing a paused workflow keeps its first " +
                             $"pause time. Body (optional): {{\"reason\": \"...\"}} (at most {MaxReasonLength} characters). 404 for an unknown workflow.");
        api.MapPost("/workflows/{name}/resume", ResumeAsync)
            .RequireAuthorization(Auth.AuthServiceCollectionExtensions.AdminPolicy)
            .WithName("ResumeWorkflow")
            .WithSummary("Resume a paused workflow (admin): its held jobs are queued at once, oldest first")
            .WithDescription("The workers' wakers are told at once (a Redis notice), so held jobs start within a second; paused: false " +
                             "and a message saying so when it was not paused. 404 for an unknown workflow.");
        api.MapPost("/jobs/retry", BulkRetryAsync)
            .WithName("RetryJobsByFilter")
            .WithSummary("Retry every failed (or cancelled) job that matches a filter; dry_run counts them first")
            .WithDescription("Body: {\"filter\": {status, error_type, error_category, workflow_name, provider, since, until, tenant_id}, \"dry_run\": true|false}. " +
                             "Every filter field narrows (AND); status is failed, cancelled or both (default failed); since/until bound when the job ended. " +
                             "A dry run answers matched and the first job ids and queues nothing; otherwise up to " + MaxBulkRetry + " matching jobs, " +
                             "oldest first, are queued again (each resumes from its checkpoints, as POST /jobs/{job_id}/retry). Callers act on their " +
                             "own tenant's jobs (and their user's, when the key or request names one); admins on every tenant's, or tenant_id's. " +
                             "400 names the field (filter.status, filter.since, ...).");
        return api;
    }

    public static RouteGroupBuilder MapOperatorAdminEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("/providers/health", ProviderHealthAsync)
            .WithName("ProviderHealth")
            .WithSummary("LLM provider health: calls, error rate, last errors and circuit state per provider and model, from every live worker")
            .WithDescription("Each worker reports its provider calls of the last window_seconds (every HTTP attempt, answered or failed) with " +
                             "its heartbeat; this merges the live workers' reports. circuit_state is the host's circuit breaker (open: calls are " +
                             "refused until open_until, half_open: the next call probes, closed, unknown: no state change reported yet). advice " +
                             "says what to do about the most frequent error type.");
        admin.MapGet("/pauses", ListPausesAsync)
            .WithName("PausedWorkflows")
            .WithSummary("The paused workflows: since when, by whom, why, and how many jobs each holds");
        return admin;
    }

    private static async Task<Results<Ok<WorkflowPauseResponse>, NotFoundProblem, ValidationProblem>> PauseAsync(
        string name,
        [FromBody] PauseWorkflowRequest? request,
        WorkflowCatalog catalog,
        WorkflowPauses pauses,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (!catalog.TryGet(name, out _))
        {
            return NotFoundProblems.Workflow(name);
        }

        if (request?.Reason is { Length: > MaxReasonLength })
        {
            return SubmissionProblem.ToResult([new SubmissionProblem("reason", $"reason must be at most {MaxReasonLength} characters.")]);
        }

        var by = http.User.FindFirstValue(ClaimTypes.Name);
        var (pausedAt, held) = await pauses.PauseAsync(name, by, string.IsNullOrWhiteSpace(request?.Reason) ? null : request.Reason, cancellationToken);
        return TypedResults.Ok(new WorkflowPauseResponse(name, true, pausedAt, held,
            $"Workflow '{name}' is paused: new jobs are accepted and held, {held} queued job(s) were held; running jobs finish. Resume with POST /api/v1/workflows/{name}/resume."));
    }

    private static async Task<Results<Ok<WorkflowPauseResponse>, NotFoundProblem>> ResumeAsync(
        string name,
        WorkflowCatalog catalog,
        WorkflowPauses pauses,
        CancellationToken cancellationToken)
    {
        if (!catalog.TryGet(name, out _))
        {
            return NotFoundProblems.Workflow(name);
        }

        var resumed = await pauses.ResumeAsync(name, cancellationToken);
        return TypedResults.Ok(new WorkflowPauseResponse(name, false, null, 0, resumed
            ? $"Workflow '{name}' is resumed: its held jobs are queued now."
            : $"Workflow '{name}' was not paused."));
    }

    private static async Task<Ok<WorkflowPausesResponse>> ListPausesAsync(WorkflowPauses pauses, CancellationToken cancellationToken) =>
        TypedResults.Ok(new WorkflowPausesResponse([.. (await pauses.ListAsync(cancellationToken))
            .Select(p => new WorkflowPauseSummary(p.WorkflowName, p.PausedAt, p.PausedBy, p.Reason, p.HeldJobs))]));

    private static async Task<Ok<ProviderHealthResponse>> ProviderHealthAsync(
        ProviderHealthReports reports, TimeProvider time, LlmWorkflow.Engine.Llm.LlmProviderRegistry registry, LlmWorkflow.Engine.Llm.Admission.IProviderOutageStore outages) =>
        TypedResults.Ok(await ProviderHealthView.WithOutagesAsync(ProviderHealthView.Merge(await reports.ListAsync(), time.GetUtcNow()), registry, outages));

    private static async Task<Results<Ok<BulkRetryResponse>, ValidationProblem>> BulkRetryAsync(
        [FromBody] BulkRetryRequest request,
        LlmWorkflowDbContext db,
        JobCommands commands,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (request.Filter is not { } filter)
        {
            return SubmissionProblem.ToResult([new SubmissionProblem("filter", "filter is required: name at least one of error_type, error_category, workflow_name, provider, since, until.")]);
        }

        var problems = Check(filter);
        if (problems.Count > 0)
        {
            return SubmissionProblem.ToResult(problems);
        }

        var matching = Matching(db, CallerScope.From(http), filter);
        var matched = await matching.CountAsync(cancellationToken);
        var ids = await matching.OrderBy(j => j.CompletedAt).ThenBy(j => j.Id).Select(j => j.Id)
            .Take(request.DryRun ? 100 : MaxBulkRetry).ToListAsync(cancellationToken);
        if (request.DryRun)
        {
            return TypedResults.Ok(new BulkRetryResponse(true, matched, 0, 0, ids, MaxBulkRetry));
        }

        var retried = new List<Guid>(ids.Count);
        foreach (var id in ids)
        {
            if (await commands.RetryAsync(id, null, cancellationToken) == RetryOutcome.Requeued)
            {
                retried.Add(id);
            }
        }

        return TypedResults.Ok(new BulkRetryResponse(false, matched, retried.Count, ids.Count - retried.Count, retried, MaxBulkRetry));
    }

    private static List<SubmissionProblem> Check(BulkRetryFilter filter)
    {
        var problems = new List<SubmissionProblem>();
        foreach (var status in filter.Status ?? [])
        {
            if (!JobStatusNames.TryParse(status, out var parsed) || !RetryableStatuses.Contains(parsed))
            {
                problems.Add(new("filter.status", $"status '{status}' cannot be retried: use failed, cancelled or both."));
            }
        }

        if (filter is { Since: { } since, Until: { } until } && since >= until)
        {
            problems.Add(new("filter.until", "until must be after since."));
        }

        if (filter is { ErrorType: null, ErrorCategory: null, WorkflowName: null, Provider: null, Since: null, Until: null, TenantId: null })
        {
            // Retrying every failed job at once is rarely what an operator in an outage means; a filter says what is meant.
            problems.Add(new("filter", "Name at least one of error_type, error_category, workflow_name, provider, since, until or tenant_id."));
        }

        return problems;
    }

    /// <summary>The caller's jobs that match the filter (tenant scope first: a caller acts only on its own tenant's).</summary>
    private static IQueryable<Storage.Jobs.WorkflowJob> Matching(LlmWorkflowDbContext db, CallerScope scope, BulkRetryFilter filter)
    {
        var statuses = filter.Status is { Count: > 0 } wanted
            ? wanted.Select(s => JobStatusNames.TryParse(s, out var parsed) ? parsed : JobStatus.Failed).Distinct().ToArray()
            : [JobStatus.Failed];
        var jobs = JobEndpoints.InTenantScope(db.Jobs.AsNoTracking(), scope, filter.TenantId).Where(j => statuses.Contains(j.Status));

        if (scope.UserId is { } user)
        {
            jobs = jobs.Where(j => j.UserId == user);
        }

        if (filter.WorkflowName is { } workflow)
        {
            jobs = jobs.Where(j => j.WorkflowName == workflow);
        }

        if (filter.ErrorType is { } type)
        {
            jobs = jobs.Where(j => j.ErrorData!.RootElement.GetProperty("type").GetString() == type);
        }

        if (filter.ErrorCategory is { } category)
        {
            jobs = jobs.Where(j => j.ErrorData!.RootElement.GetProperty("category").GetString() == category);
        }

        if (filter.Provider is { } provider)
        {
            jobs = jobs.Where(j => j.ErrorData!.RootElement.GetProperty("details").GetProperty("provider").GetString() == provider);
        }

        if (filter.Since is { } since)
        {
            jobs = jobs.Where(j => j.CompletedAt >= since);
        }

        if (filter.Until is { } until)
        {
            jobs = jobs.Where(j => j.CompletedAt < until);
        }

        return jobs;
    }
}
