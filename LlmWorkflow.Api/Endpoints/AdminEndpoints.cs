using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Api.Jobs;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>Admin-only routes: housekeeping, usage/cost report and queue state.</summary>
internal static class AdminEndpoints
{
    // Documented ranges, checked before any arithmetic on dates (2147483647 days overflows DateTimeOffset).
    private const int MaxProcessingMinutes = 525_600;
    private const int MaxWaitingHours = 87_600;
    private const int MaxCleanupDays = 36_500;
    internal const int MaxTenantLength = 100;
    private const int MaxUserOffset = 1_000_000;
    // A request stays well inside an ingress timeout: a month of calls took 1.5 s at 1 M jobs (2,500 calls a day).
    private const int MaxRebuildDays = 31;
    private static readonly DateTimeOffset EarliestReportInstant = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset LatestReportInstant = new(9000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static RouteGroupBuilder MapAdminEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapPost("/cleanup/stale", CleanupStaleAsync)
            .WithName("CleanupStaleJobs")
            .WithSummary("Fail jobs stuck in processing (no live worker) or waiting too long")
            .WithDescription("processing_minutes (1-525600, default 60): processing jobs started longer ago whose lease expired; " +
                             "waiting_hours (1-87600, default 72): pending/queued jobs older than this. Marked is_stale with a stale_reason.");
        admin.MapPost("/cleanup/old", CleanupOldAsync)
            .WithName("DeleteOldJobs")
            .WithSummary("Delete finished jobs older than N days (1-36500, default 7)");
        admin.MapGet("/maintenance", MaintenanceAsync)
            .WithName("MaintenanceRuns")
            .WithSummary("Scheduled maintenance: its settings and the last run of each task (stale_cleanup, usage_rollup, retention)");
        admin.MapGet("/usage", UsageAsync)
            .WithName("UsageReport")
            .WithSummary("Spend and tokens grouped by model, workflow, user and day")
            .WithDescription("Period: from/to (ISO 8601, UTC, years 2000-9000) or days (1-366, default 30) back from now. " +
                             "tenant_id (optional): only that tenant's calls. by_user groups by user id (or username when a job named none) and carries user_id and username; " +
                             "it lists the user_limit (1-10000, default 100) most expensive users after skipping user_offset (0-1000000, default 0), ordered by cost then key, " +
                             "followed, when other users had usage, by one group with key \"(others)\" summing every user not listed; user_count says how many users had usage. " +
                             "Full days are summed from a daily/monthly rollup and the rest from the raw calls, so the figures always equal the sum of the calls. " +
                             "Deleting a job does not delete its spend: its calls stay counted under its tenant, workflow and user until the usage retention " +
                             "(usage_retention_days) ends; deleted_job_calls and deleted_job_cost_usd (on total, by_model, by_workflow and by_day) say how much of a figure " +
                             "came from deleted jobs, and counts says in a sentence what the report counts. " +
                             "GET /jobs with user_id/username, workflow_name, model and usage_from/usage_to lists the jobs behind any figure.");
        admin.MapPost("/usage/rebuild", RebuildUsageAsync)
            .WithName("RebuildUsageRollup")
            .WithSummary("Recompute the usage report's rollup for the UTC days [from, to) from the raw calls")
            .WithDescription("For LLM calls written with a time the rollup had already passed (usage rows imported from another system, " +
                             "part of a table restored): GET /admin/usage sums full days from the rollup, so such calls are missing from it until their " +
                             $"days are rebuilt. from and to (required): UTC dates (YYYY-MM-DD), years 2000-8999, from before to, at most {MaxRebuildDays} days " +
                             "(send one request per month for longer). Only days the rollup already holds are rebuilt (rebuilt_until; null when the rollup " +
                             "holds none of them); later calls are summed raw by the report and rolled up by scheduled maintenance. One transaction per " +
                             "calendar month, serialised with maintenance's roll-up and with job deletes, so the report stays equal to the calls throughout.");
        admin.MapGet("/queue", QueueAsync)
            .WithName("QueueState")
            .WithSummary("Dispatch streams per priority band, pending entries, consumers, worker heartbeats, dead letters");
        return admin;
    }

    private static async Task<Results<Ok<CleanupResponse>, ValidationProblem>> CleanupStaleAsync(
        JobMaintenance maintenance,
        [FromQuery(Name = "processing_minutes")] int? processingMinutes,
        [FromQuery(Name = "waiting_hours")] int? waitingHours,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (processingMinutes is < 1 or > MaxProcessingMinutes)
        {
            errors["processing_minutes"] = [$"processing_minutes must be between 1 and {MaxProcessingMinutes} (one year)."];
        }

        if (waitingHours is < 1 or > MaxWaitingHours)
        {
            errors["waiting_hours"] = [$"waiting_hours must be between 1 and {MaxWaitingHours} (ten years)."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var result = await maintenance.CleanupStaleAsync(
            TimeSpan.FromMinutes(processingMinutes ?? 60), TimeSpan.FromHours(waitingHours ?? 72), cancellationToken);
        return TypedResults.Ok(new CleanupResponse(result.Total));
    }

    private static async Task<Results<Ok<CleanupResponse>, ValidationProblem>> CleanupOldAsync(
        JobMaintenance maintenance, int? days, CancellationToken cancellationToken)
    {
        if (days is < 1 or > MaxCleanupDays)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["days"] = [$"days must be between 1 and {MaxCleanupDays} (100 years)."] });
        }

        return TypedResults.Ok(new CleanupResponse((await maintenance.DeleteFinishedAsync(TimeSpan.FromDays(days ?? 7), cancellationToken)).Deleted));
    }

    private static async Task<Ok<MaintenanceResponse>> MaintenanceAsync(
        ScheduledMaintenance scheduled, Microsoft.Extensions.Options.IOptions<MaintenanceOptions> options, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        return TypedResults.Ok(new MaintenanceResponse(
            settings.Enabled, settings.Interval.TotalSeconds, settings.StaleProcessingAfter.TotalSeconds, settings.StaleWaitingAfter.TotalSeconds,
            settings.Retention.TotalSeconds, await scheduled.LastRunsAsync(cancellationToken))
        {
            UsageRetentionSeconds = settings.UsageRetention.TotalSeconds,
        });
    }

    private static async Task<Results<Ok<UsageReportResult>, ValidationProblem>> UsageAsync(
        UsageReport report, TimeProvider time, DateTimeOffset? from, DateTimeOffset? to, int? days,
        [FromQuery(Name = "tenant_id")] string? tenantId,
        [FromQuery(Name = "user_limit")] int? userLimit,
        [FromQuery(Name = "user_offset")] int? userOffset,
        CancellationToken cancellationToken)
    {
        if (userLimit is < 1 or > UsageReport.MaxUserLimit)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["user_limit"] = [$"user_limit must be between 1 and {UsageReport.MaxUserLimit}."] });
        }

        if (userOffset is < 0 or > MaxUserOffset)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["user_offset"] = [$"user_offset must be between 0 and {MaxUserOffset}."] });
        }

        if (tenantId is { Length: > MaxTenantLength })
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["tenant_id"] = [$"tenant_id must be at most {MaxTenantLength} characters."] });
        }

        if (days is < 1 or > 366)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["days"] = ["days must be between 1 and 366."] });
        }

        foreach (var (name, value) in new[] { ("from", from), ("to", to) })
        {
            if (value is { } instant && (instant < EarliestReportInstant || instant > LatestReportInstant))
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    [name] = [$"{name} must be between {EarliestReportInstant:yyyy-MM-dd} and {LatestReportInstant:yyyy-MM-dd}."],
                });
            }
        }

        var end = to ?? time.GetUtcNow();
        var start = from ?? end.AddDays(-(days ?? 30));
        if (start >= end)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["from"] = ["from must be before to."] });
        }

        return TypedResults.Ok(await report.BuildAsync(start, end, string.IsNullOrEmpty(tenantId) ? null : tenantId, cancellationToken,
            userLimit ?? UsageReport.DefaultUserLimit, userOffset ?? 0));
    }

    private static async Task<Results<Ok<UsageRebuildResponse>, ValidationProblem>> RebuildUsageAsync(
        UsageRollup rollup, DateOnly? from, DateOnly? to, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        foreach (var (name, value) in new[] { ("from", from), ("to", to) })
        {
            if (value is not { } day)
            {
                errors[name] = [$"{name} is required: a UTC date (YYYY-MM-DD)."];
            }
            else if (day.Year is < 2000 or >= 9000)
            {
                errors[name] = [$"{name} must be between 2000-01-01 and 8999-12-31."];
            }
        }

        if (errors.Count == 0 && from >= to)
        {
            errors["from"] = ["from must be before to."];
        }
        else if (errors.Count == 0 && to!.Value.DayNumber - from!.Value.DayNumber > MaxRebuildDays)
        {
            errors["to"] = [$"to must be at most {MaxRebuildDays} days after from: rebuild a longer period one month per request."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, detail: string.Join(" ", errors.Values.SelectMany(v => v)));
        }

        var rebuild = await rollup.RebuildAsync(from!.Value, to!.Value, cancellationToken);
        return TypedResults.Ok(new UsageRebuildResponse(from.Value, to.Value, rebuild.RebuiltUntil, rebuild.RolledUntil));
    }

    private static async Task<Ok<QueueState>> QueueAsync(QueueSnapshot snapshot, LlmWorkflowDbContext db, CancellationToken cancellationToken)
    {
        var oldestQueued = await db.Jobs.AsNoTracking().Where(j => j.Status == JobStatus.Queued)
            .OrderBy(j => j.QueuedAt).Select(j => (DateTimeOffset?)j.QueuedAt).FirstOrDefaultAsync(cancellationToken);
        return TypedResults.Ok(await snapshot.TakeAsync(oldestQueued, cancellationToken));
    }
}

/// <summary>The maintenance schedule as the API's configuration says (workers read the same section) and the last runs.</summary>
internal sealed record MaintenanceResponse(
    bool Enabled, double IntervalSeconds, double StaleProcessingAfterSeconds, double StaleWaitingAfterSeconds, double RetentionSeconds,
    IReadOnlyList<MaintenanceRun> LastRuns)
{
    /// <summary>How long LLM calls are kept, deleted jobs' included (<see cref="MaintenanceOptions.UsageRetention"/>).</summary>
    public double UsageRetentionSeconds { get; init; }
}

/// <summary>A rebuild of the usage rollup: the days asked for and what it reached (<see cref="UsageRollupRebuild"/>).</summary>
internal sealed record UsageRebuildResponse(DateOnly From, DateOnly To, DateTimeOffset? RebuiltUntil, DateTimeOffset? RolledUntil);

/// <summary>How many jobs a cleanup changed.</summary>
internal sealed record CleanupResponse(int Affected);
