using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using LlmWorkflow.Api.Jobs;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>Admin-only views across tenants for the dashboard: the tenants that have jobs, and job time series.</summary>
internal static class AnalyticsEndpoints
{
    /// <summary>The most buckets one time series answers with (a week of hours, a day of minutes, ...).</summary>
    public const int MaxBuckets = 1_500;

    private const int MaxTenants = 1_000;
    private static readonly DateTimeOffset Earliest = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Latest = new(9000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static RouteGroupBuilder MapAnalyticsEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("/tenants", TenantsAsync)
            .WithName("ListTenants")
            .WithSummary("Tenants that have jobs, with their job counts (at most 1000, by name)")
            .WithDescription("For the dashboard's tenant filter; pass a tenant_id to GET /jobs, /admin/usage or /admin/metrics/jobs.");
        admin.MapGet("/metrics/jobs", TimeSeriesAsync)
            .WithName("JobTimeSeries")
            .WithSummary("Throughput, failure rate, queue wait and run time over time, from PostgreSQL")
            .WithDescription("Period: from/to (ISO 8601, years 2000-9000, from before to; default the last 24 hours), bucket: minute|hour|day (default hour; buckets are UTC-aligned), " +
                             $"at most {MaxBuckets} buckets. Optional tenant_id and workflow_name. throughput has every bucket (zeros included): jobs submitted (by created_at) and " +
                             "completed/failed/cancelled (by completed_at), failure_rate = failed / (completed + failed). by_workflow: for the " +
                             $"{JobTimeSeries.MaxWorkflows} workflows with the most finished jobs, per bucket in which they finished, p50/p95 of queue wait (started_at - queued_at) and run time (completed_at - started_at) in ms.");
        return admin;
    }

    private static async Task<Ok<TenantListResponse>> TenantsAsync(LlmWorkflowDbContext db, CancellationToken cancellationToken)
    {
        var tenants = await db.Jobs.AsNoTracking().GroupBy(j => j.TenantId)
            .OrderBy(g => g.Key).Take(MaxTenants)
            .Select(g => new { g.Key, Jobs = g.Count() })
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new TenantListResponse(tenants.Select(t => new TenantSummary(t.Key, t.Jobs)).ToList()));
    }

    private static async Task<Results<Ok<JobTimeSeriesResult>, ValidationProblem>> TimeSeriesAsync(
        JobTimeSeries series,
        TimeProvider time,
        DateTimeOffset? from,
        DateTimeOffset? to,
        string? bucket,
        [FromQuery(Name = "tenant_id")] string? tenantId,
        [FromQuery(Name = "workflow_name")] string? workflowName,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var size = TimeBucket.Hour;
        if (!string.IsNullOrEmpty(bucket) && !TryParseBucket(bucket, out size))
        {
            errors["bucket"] = [$"Invalid bucket '{bucket}'. Valid values: minute, hour, day."];
        }

        foreach (var (name, value) in new[] { ("from", from), ("to", to) })
        {
            if (value is { } instant && (instant < Earliest || instant > Latest))
            {
                errors[name] = [$"{name} must be between {Earliest:yyyy-MM-dd} and {Latest:yyyy-MM-dd}."];
            }
        }

        foreach (var (name, value) in new[] { ("tenant_id", tenantId), ("workflow_name", workflowName) })
        {
            if (value is { Length: > AdminEndpoints.MaxTenantLength })
            {
                errors[name] = [$"{name} must be at most {AdminEndpoints.MaxTenantLength} characters."];
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, detail: string.Join(" ", errors.Values.SelectMany(v => v)));
        }

        var end = to ?? time.GetUtcNow();
        var start = from ?? end.AddDays(-1);
        if (start >= end)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["from"] = ["from must be before to."] });
        }

        var count = JobTimeSeries.BucketCount(start, end, size);
        if (count > MaxBuckets)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["bucket"] = [$"The period holds {count} buckets of a {size.ToString().ToLowerInvariant()}; at most {MaxBuckets}: choose a larger bucket or a shorter period."],
            });
        }

        return TypedResults.Ok(await series.BuildAsync(start, end, size,
            string.IsNullOrEmpty(tenantId) ? null : tenantId, string.IsNullOrEmpty(workflowName) ? null : workflowName, cancellationToken));
    }

    private static bool TryParseBucket(string text, out TimeBucket bucket)
    {
        bucket = text switch { "minute" => TimeBucket.Minute, "hour" => TimeBucket.Hour, "day" => TimeBucket.Day, _ => (TimeBucket)(-1) };
        return Enum.IsDefined(bucket);
    }
}

/// <summary>A tenant and how many jobs it has.</summary>
internal sealed record TenantSummary(string TenantId, int Jobs);

/// <summary>The tenants that have jobs.</summary>
internal sealed record TenantListResponse(IReadOnlyList<TenantSummary> Tenants);
