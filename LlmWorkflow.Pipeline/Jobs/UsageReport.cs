using Microsoft.EntityFrameworkCore;
using LlmWorkflow.Pipeline.Persistence;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>One group of an aggregated usage report.</summary>
public sealed record UsageGroup(string Key, int Calls, long InputTokens, long OutputTokens, long TotalTokens, decimal CostUsd);

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
    public async Task<UsageReportResult> BuildAsync(DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        var rows = await (
            from u in db.ProviderUsage.AsNoTracking()
            where u.CreatedAt >= start && u.CreatedAt < end
            join j in db.Jobs.AsNoTracking() on u.JobId equals j.Id into jobs
            from j in jobs.DefaultIfEmpty()
            select new UsageRow(
                u.Model,
                j == null ? "(deleted)" : j.WorkflowName,
                j == null ? null : j.UserId,
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
            By(rows, r => r.User ?? "(none)"),
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

    private sealed record UsageRow(string Model, string Workflow, string? User, DateTimeOffset CreatedAt, int InputTokens, int OutputTokens, int TotalTokens, decimal CostUsd);
}
