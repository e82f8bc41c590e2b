using Microsoft.EntityFrameworkCore;
using LlmWorkflow.Pipeline.Persistence;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>One group of an aggregated usage report.</summary>
public sealed record UsageGroup(string Key, int Calls, long InputTokens, long OutputTokens, long TotalTokens, decimal CostUsd)
{
    /// <summary>By user only: the user id of the group (null when its jobs named only a username).</summary>
    public string? UserId { get; init; }

    /// <summary>By user only: the username its jobs were submitted with (the most recent one if it changed).</summary>
    public string? Username { get; init; }
}

/// <summary>Spend and tokens over a period, grouped four ways, from <c>llm_provider_usage</c>.</summary>
public sealed record UsageReportResult(
    DateTimeOffset From,
    DateTimeOffset To,
    UsageGroup Total,
    IReadOnlyList<UsageGroup> ByModel,
    IReadOnlyList<UsageGroup> ByWorkflow,
    IReadOnlyList<UsageGroup> ByUser,
    IReadOnlyList<UsageGroup> ByDay);

/// <summary>Builds the admin usage/cost report.</summary>
public sealed class UsageReport(LlmWorkflowDbContext db)
{
    /// <param name="tenantId">Only this tenant's jobs (calls of deleted jobs have no tenant and are left out); null: all.</param>
    public async Task<UsageReportResult> BuildAsync(DateTimeOffset start, DateTimeOffset end, string? tenantId, CancellationToken cancellationToken)
    {
        var rows = await (
            from u in db.ProviderUsage.AsNoTracking()
            where u.CreatedAt >= start && u.CreatedAt < end
            join j in db.Jobs.AsNoTracking() on u.JobId equals j.Id into jobs
            from j in jobs.DefaultIfEmpty()
            where tenantId == null || (j != null && j.TenantId == tenantId)
            select new UsageRow(
                u.Model,
                j == null ? "(deleted)" : j.WorkflowName,
                j == null ? null : j.UserId,
                j == null ? null : j.Username,
                u.CreatedAt,
                u.InputTokens,
                u.OutputTokens,
                u.TotalTokens,
                u.CostUsd)).ToListAsync(cancellationToken);

        return new UsageReportResult(
            start, end,
            Sum("total", rows),
            By(rows, r => r.Model),
            By(rows, r => r.Workflow),
            ByUser(rows),
            rows.GroupBy(r => r.CreatedAt.UtcDateTime.Date).OrderBy(g => g.Key)
                .Select(g => Sum(g.Key.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), g)).ToArray());
    }

    private static UsageGroup Sum(string key, IEnumerable<UsageRow> group)
    {
        var list = group as IReadOnlyCollection<UsageRow> ?? group.ToList();
        return new UsageGroup(key, list.Count,
            list.Sum(r => (long)r.InputTokens), list.Sum(r => (long)r.OutputTokens), list.Sum(r => (long)r.TotalTokens),
            list.Sum(r => r.CostUsd));
    }

    private static IReadOnlyList<UsageGroup> By(IEnumerable<UsageRow> rows, Func<UsageRow, string> key) =>
        rows.GroupBy(key).Select(g => Sum(g.Key, g))
            .OrderByDescending(g => g.CostUsd).ThenBy(g => g.Key, StringComparer.Ordinal).ToArray();

    /// <summary>
    /// Grouped by user id, or by username for jobs that named no user id, so the dashboard can show usernames and link
    /// each group to its jobs (user_id or username filter of the jobs list).
    /// </summary>
    private static IReadOnlyList<UsageGroup> ByUser(IEnumerable<UsageRow> rows) =>
        rows.GroupBy(r => (r.User, Username: r.User is null ? r.Username : null))
            .Select(g => Sum(g.Key.User ?? g.Key.Username ?? "(none)", g) with
            {
                UserId = g.Key.User,
                Username = g.OrderByDescending(r => r.CreatedAt).Select(r => r.Username).FirstOrDefault(n => n is not null),
            })
            .OrderByDescending(g => g.CostUsd).ThenBy(g => g.Key, StringComparer.Ordinal).ToArray();

    private sealed record UsageRow(string Model, string Workflow, string? User, string? Username, DateTimeOffset CreatedAt, int InputTokens, int OutputTokens, int TotalTokens, decimal CostUsd);
}
