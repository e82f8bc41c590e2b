using System.Globalization;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// The list filters of <c>GET /api/v1/jobs</c>, exactly as document 003 specifies: <c>status_filter</c>, <c>user_id</c>,
/// <c>limit</c> (1-200, default 50), <c>offset</c>, and <c>limit_results</c>: a count "1"-"500" (overrides limit) or
/// a period "Today" (since 00:00 UTC), "7 Days", "30 Days"; plus <c>workflow_name</c> (exact) and <c>search</c>: part of
/// the job id (a prefix, or the short id the dashboard shows), username or user id, case-insensitive.
/// </summary>
public sealed record JobListQuery(JobStatus? Status, string? UserId, int Limit, int Offset, DateTimeOffset? CreatedSince)
{
    public const int DefaultLimit = 50;
    public const int MaxTextLength = 100;

    public string? WorkflowName { get; init; }

    public string? Search { get; init; }
    public const string AllStatuses = "all";
    public const string RunningStatus = "running";
    public static readonly string[] LimitResultsValues = ["1-500", "Today", "7 Days", "30 Days"];

    /// <summary>Every accepted status_filter: the job statuses plus document 003's "all" and "running" (= processing).</summary>
    public static IReadOnlyList<string> StatusFilterValues { get; } = [AllStatuses, RunningStatus, .. JobStatusNames.All];

    public static (JobListQuery? Query, Dictionary<string, string[]> Errors) Parse(
        string? statusFilter, string? userId, int? limit, int? offset, string? limitResults, DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>();
        JobStatus? status = null;
        // Document 003's admin screen sends "all" (no filter) and "running" (= processing); both keep working.
        if (!string.IsNullOrEmpty(statusFilter) && !string.Equals(statusFilter, AllStatuses, StringComparison.OrdinalIgnoreCase))
        {
            if (string.Equals(statusFilter, RunningStatus, StringComparison.OrdinalIgnoreCase))
            {
                status = JobStatus.Processing;
            }
            else if (JobStatusNames.TryParse(statusFilter, out var parsed))
            {
                status = parsed;
            }
            else
            {
                errors["status_filter"] = [$"Invalid status_filter '{statusFilter}'. Valid values: {string.Join(", ", StatusFilterValues)}."];
            }
        }

        var effectiveLimit = limit ?? DefaultLimit;
        if (effectiveLimit is < 1 or > 200)
        {
            errors["limit"] = ["limit must be between 1 and 200."];
        }

        if (offset is < 0)
        {
            errors["offset"] = ["offset must be 0 or more."];
        }

        DateTimeOffset? since = null;
        switch (limitResults)
        {
            case null or "":
                break;
            case "Today":
                since = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
                break;
            case "7 Days":
                since = now.AddDays(-7);
                break;
            case "30 Days":
                since = now.AddDays(-30);
                break;
            default:
                if (int.TryParse(limitResults, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count is >= 1 and <= 500)
                {
                    effectiveLimit = count;
                    errors.Remove("limit");
                }
                else
                {
                    errors["limit_results"] = [$"Invalid limit_results value '{limitResults}'. Valid values: {string.Join(", ", LimitResultsValues)} (a number from 1 to 500, or a period)."];
                }

                break;
        }

        return errors.Count > 0
            ? (null, errors)
            : (new JobListQuery(status, string.IsNullOrEmpty(userId) ? null : userId, effectiveLimit, offset ?? 0, since), errors);
    }

    /// <summary>Adds the workflow and search filters to a parsed query, or the errors naming the field.</summary>
    public static (JobListQuery? Query, Dictionary<string, string[]> Errors) WithText(
        (JobListQuery? Query, Dictionary<string, string[]> Errors) parsed, string? workflowName, string? search)
    {
        var (query, errors) = parsed;
        if (workflowName is { Length: > MaxTextLength })
        {
            errors["workflow_name"] = [$"workflow_name must be at most {MaxTextLength} characters."];
        }

        var term = search?.Trim();
        if (term is { Length: > MaxTextLength })
        {
            errors["search"] = [$"search must be at most {MaxTextLength} characters."];
        }

        return errors.Count > 0 || query is null
            ? (null, errors)
            : (query with { WorkflowName = string.IsNullOrEmpty(workflowName) ? null : workflowName, Search = string.IsNullOrEmpty(term) ? null : term }, errors);
    }
}
