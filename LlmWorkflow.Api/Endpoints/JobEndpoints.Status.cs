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

/// <summary>The job status and list routes: what a caller reads about its jobs.</summary>
internal static partial class JobEndpoints
{
    internal const string JobProblemDescription =
        "404 for an unknown job (or another tenant's or user's); 410 Gone for a deleted job during the retention period. Both bodies " +
        "are problem+json whose status is a string, never a number (callers read a job's status from it): \"not_found\" on 404, " +
        "\"failed\" on 410 (with deleted_at and error.type job_deleted), so pollers that stop on completed/failed stop; the HTTP " +
        "status is in http_status.";

    /// <summary>The status and list routes (an approval's decision links ride on a waiting job's status).</summary>
    private static void MapReadRoutes(RouteGroupBuilder api)
    {
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
    }

    private static async Task<Results<Ok<JobStatusResponse>, JobProblemResult>> GetStatusAsync(
        Guid jobId,
        LlmWorkflowDbContext db,
        DeletedJobs deletedJobs,
        LlmWorkflow.Storage.Approvals.ApprovalLinks approvalLinks,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null || !CallerScope.From(http).CanSee(job))
        {
            return await MissingAsync(jobId, job is null, deletedJobs, http, cancellationToken);
        }

        var steps = await db.JobSteps.AsNoTracking()
            .Where(s => s.JobId == jobId)
            .OrderBy(s => s.StartedAt).ThenBy(s => s.CreatedAt)
            .ToListAsync(cancellationToken);
        // The forks of a job are its tenant's (a fork copies its source's tenant).
        var forks = await db.Jobs.AsNoTracking()
            .Where(j => j.ForkedFromJobId == jobId)
            .OrderBy(j => j.CreatedAt)
            .Select(j => new JobForkSummary(j.Id, j.ForkedFromStep ?? "", j.Status.ToWire(), j.CreatedAt))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(job.ToStatus(steps, approvalLinks, JobMapping.BaseUrl(http.Request), forks));
    }

    private static async Task<Results<Ok<JobListResponse>, ValidationProblem>> ListAsync(
        [FromQuery(Name = "status_filter")] string? statusFilter,
        [FromQuery(Name = "user_id")] string? userId,
        int? limit,
        int? offset,
        [FromQuery(Name = "limit_results")] string? limitResults,
        [FromQuery(Name = "tenant_id")] string? tenantId,
        [FromQuery(Name = "workflow_name")] string? workflowName,
        [FromQuery(Name = "schedule_id")] string? scheduleId,
        string? search,
        string? username,
        string? model,
        [FromQuery(Name = "usage_from")] string? usageFrom,
        [FromQuery(Name = "usage_to")] string? usageTo,
        string? sort,
        string? order,
        string? cursor,
        LlmWorkflowDbContext db,
        TimeProvider time,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        // user_id only narrows: CallerScope already combines it with the key's bound user and X-User-Id.
        _ = userId;
        var scope = CallerScope.From(http);
        var (query, errors) = JobListQuery.WithText(
            JobListQuery.Parse(statusFilter, scope.UserId, limit, offset, limitResults, time.GetUtcNow()), workflowName, search);
        var (usage, usageErrors) = JobListUsageFilter.Parse(username, model, usageFrom, usageTo);
        var (ordering, sortErrors) = JobListSort.Parse(sort, order);
        foreach (var (field, messages) in usageErrors.Concat(sortErrors))
        {
            errors[field] = messages;
        }

        Guid? schedule = null;
        if (!string.IsNullOrEmpty(scheduleId))
        {
            if (Guid.TryParse(scheduleId, out var parsedSchedule))
            {
                schedule = parsedSchedule;
            }
            else
            {
                errors["schedule_id"] = ["schedule_id must be a schedule's id (a UUID)."];
            }
        }

        var after = ParseCursor(cursor, ordering, query, errors);
        if (query is null || usage is null || ordering is null || errors.ContainsKey("cursor") || errors.ContainsKey("schedule_id"))
        {
            return TypedResults.ValidationProblem(errors, detail: string.Join(" ", errors.Values.SelectMany(v => v)),
                extensions: errors.ContainsKey("limit_results") ? InvalidLimitResults(limitResults) : null);
        }

        var jobs = Filter(db, scope, tenantId, query, usage);
        if (schedule is { } fromSchedule)
        {
            jobs = jobs.Where(j => j.ScheduleId == fromSchedule);
        }

        // Counting every match costs a scan of all of them (seconds at millions of jobs); the count stops one past
        // its limit, which is enough to say "more than that" and whether a next page exists. With a cursor it still
        // counts the filters' matches, not only those after the cursor.
        var countLimit = JobListCount.LimitFor(query.Offset, query.Limit);
        var counted = await jobs.OrderByDescending(j => j.CreatedAt).ThenByDescending(j => j.Id)
            .Take(countLimit + 1).CountAsync(cancellationToken);
        var (total, exact) = JobListCount.Total(counted, countLimit);
        if (after is not null)
        {
            // A row-value comparison, so PostgreSQL starts the (tenant_id, …, created_at, id) index range at the cursor.
            jobs = ordering.Descending
                ? jobs.Where(j => EF.Functions.LessThan(ValueTuple.Create(j.CreatedAt, j.Id), ValueTuple.Create(after.CreatedAt, after.Id)))
                : jobs.Where(j => EF.Functions.GreaterThan(ValueTuple.Create(j.CreatedAt, j.Id), ValueTuple.Create(after.CreatedAt, after.Id)));
        }

        var rows = jobs;
        if (query.Offset > 0)
        {
            // Deferred join: the skipped rows are walked in the index alone (their ids), only the page's rows are read.
            var pageIds = ordering.Apply(jobs).Skip(query.Offset).Take(query.Limit).Select(j => j.Id);
            rows = db.Jobs.AsNoTracking().Where(j => pageIds.Contains(j.Id));
        }

        var page = await ordering.Apply(rows)
            .Take(query.Limit)
            .Select(j => new JobSummary(
                j.Id, j.WorkflowName, j.Status.ToWire(), j.Priority, j.UserId, j.Username, j.Action, j.CreatedAt,
                j.StartedAt, j.CompletedAt, j.DurationMs, j.ErrorMessage, j.CurrentStepId, j.CurrentStepName,
                j.ProgressPercent, j.TotalTokens, j.CostUsd, j.Status == JobStatus.Failed ? j.ErrorData : null) { ScheduleId = j.ScheduleId })
            .ToListAsync(cancellationToken);
        var next = ordering.Field == JobListSort.DefaultField && page.Count == query.Limit
            ? new JobListCursor(page[^1].CreatedAt, page[^1].JobId).Encode()
            : null;
        return TypedResults.Ok(new JobListResponse(page, total, query.Limit, query.Offset, exact) { NextCursor = next });
    }

    /// <summary>The cursor of a keyset page, or null; a cursor that is invalid or combined with what it cannot page adds its error.</summary>
    private static JobListCursor? ParseCursor(string? cursor, JobListSort? ordering, JobListQuery? query, Dictionary<string, string[]> errors)
    {
        if (cursor is null)
        {
            return null;
        }

        var after = JobListCursor.Decode(cursor);
        if (after is null)
        {
            errors["cursor"] = ["cursor is not valid: pass the next_cursor of a previous page."];
        }
        else if (ordering is not null && ordering.Field != JobListSort.DefaultField)
        {
            errors["cursor"] = ["cursor pages the created_at order only: leave sort out or use sort=created_at."];
        }
        else if (query is not null && query.Offset != 0)
        {
            errors["cursor"] = ["cursor and offset cannot be combined: a cursor page starts after the cursor's job."];
        }

        return after;
    }

    /// <summary>
    /// The jobs of the caller's tenant (none when its user is named twice differently); an admin's of every tenant, or
    /// of <paramref name="adminTenant"/> when it names one.
    /// </summary>
    internal static IQueryable<WorkflowJob> InTenantScope(IQueryable<WorkflowJob> jobs, CallerScope scope, string? adminTenant)
    {
        if (scope.Contradictory)
        {
            jobs = jobs.Where(_ => false);
        }

        if (scope.TenantFilter is { } tenant)
        {
            return jobs.Where(j => j.TenantId == tenant);
        }

        return adminTenant is { Length: > 0 } named ? jobs.Where(j => j.TenantId == named) : jobs;
    }

    /// <summary>The caller's jobs that match the list's filters (tenant scope first: a caller sees only its own tenant).</summary>
    private static IQueryable<WorkflowJob> Filter(
        LlmWorkflowDbContext db, CallerScope scope, string? tenantId, JobListQuery query, JobListUsageFilter usage)
    {
        var jobs = InTenantScope(db.Jobs.AsNoTracking(), scope, tenantId);
        if (query.Status is { } status)
        {
            jobs = jobs.Where(j => j.Status == status);
        }

        if (query.UserId is { } user)
        {
            jobs = jobs.Where(j => j.UserId == user);
        }

        if (query.CreatedSince is { } since)
        {
            jobs = jobs.Where(j => j.CreatedAt >= since);
        }

        if (query.WorkflowName is { } workflow)
        {
            jobs = jobs.Where(j => j.WorkflowName == workflow);
        }

        if (query.Search is { } term)
        {
            jobs = Search(db, jobs, term);
        }

        if (usage.Username is { } name)
        {
            jobs = jobs.Where(j => j.Username == name);
        }

        if (usage.FiltersUsage)
        {
            jobs = jobs.Where(j => db.ProviderUsage.Any(u => u.JobId == j.Id
                && (usage.Model == null || u.Model == usage.Model)
                && (usage.UsageFrom == null || u.CreatedAt >= usage.UsageFrom)
                && (usage.UsageTo == null || u.CreatedAt < usage.UsageTo)));
        }

        return jobs;
    }

    /// <summary>
    /// Any part of the id (the dashboard shows its last 8 characters, callers paste prefixes), username, user id,
    /// action or input (its JSON text), ignoring case; LIKE wildcards in the term are escaped.
    /// </summary>
    private static IQueryable<WorkflowJob> Search(LlmWorkflowDbContext db, IQueryable<WorkflowJob> jobs, string term)
    {
        var escaped = term.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal)
            .Replace("_", @"\_", StringComparison.Ordinal);
        var anywhere = "%" + escaped + "%";
        // EF cannot turn a jsonb value into its text, so the input is matched by a subquery of its own.
        var inputMatches = db.Database.SqlQuery<Guid>(
            $@"SELECT id AS ""Value"" FROM llm_workflow_jobs WHERE input_data::text ILIKE {anywhere} ESCAPE '\'");
        return jobs.Where(j => EF.Functions.ILike(j.Id.ToString(), anywhere, @"\")
            || (j.Username != null && EF.Functions.ILike(j.Username, anywhere, @"\"))
            || (j.UserId != null && EF.Functions.ILike(j.UserId, anywhere, @"\"))
            || (j.Action != null && EF.Functions.ILike(j.Action, anywhere, @"\"))
            || inputMatches.Contains(j.Id));
    }

    /// <summary>Document 003's members of the limit_results 400, kept next to the problem details ones its clients read.</summary>
    private static Dictionary<string, object?> InvalidLimitResults(string? limitResults) => new()
    {
        ["error"] = "InvalidLimitResults",
        ["message"] = $"Invalid limit_results value: '{limitResults}'. Expected: numeric value (1-500), 'Today', '7 Days', or '30 Days'",
        ["limit_results"] = limitResults,
        ["valid_values"] = JobListQuery.LimitResultsValues,
    };

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
