using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// The order of <c>GET /api/v1/jobs</c>: <c>sort</c> (a column the dashboard shows) and <c>order</c> (asc|desc).
/// Every order ends with the job id, so offset pages never repeat or skip a job when values tie; empty values
/// (a job not yet finished has no duration) come last in both directions.
/// </summary>
public sealed record JobListSort(string Field, bool Descending)
{
    public const string DefaultField = "created_at";

    public static readonly JobListSort Default = new(DefaultField, Descending: true);

    public static IReadOnlyList<string> Fields { get; } =
        ["created_at", "status", "workflow_name", "username", "priority", "duration_ms", "total_tokens", "cost_usd"];

    public static IReadOnlyList<string> Orders { get; } = ["asc", "desc"];

    /// <summary>The sort, or the errors naming <c>sort</c> / <c>order</c>. Without <c>sort</c> the order defaults to desc (newest first).</summary>
    public static (JobListSort? Sort, Dictionary<string, string[]> Errors) Parse(string? sort, string? order)
    {
        var errors = new Dictionary<string, string[]>();
        var field = string.IsNullOrEmpty(sort) ? DefaultField : sort;
        if (!Fields.Contains(field, StringComparer.Ordinal))
        {
            errors["sort"] = [$"Invalid sort '{sort}'. Valid values: {string.Join(", ", Fields)}."];
        }

        var descending = true;
        if (!string.IsNullOrEmpty(order))
        {
            if (!Orders.Contains(order, StringComparer.Ordinal))
            {
                errors["order"] = [$"Invalid order '{order}'. Valid values: asc, desc."];
            }

            descending = order == "desc";
        }

        return errors.Count > 0 ? (null, errors) : (new JobListSort(field, descending), errors);
    }

    public IOrderedQueryable<WorkflowJob> Apply(IQueryable<WorkflowJob> jobs)
    {
        var ordered = Field switch
        {
            "status" => First(jobs, j => j.Status),
            "workflow_name" => First(jobs, j => j.WorkflowName),
            "username" => By(By(jobs.OrderBy(j => j.Username == null && j.UserId == null), j => j.Username ?? j.UserId), j => j.UserId),
            "priority" => First(jobs, j => j.Priority),
            "duration_ms" => By(jobs.OrderBy(j => j.DurationMs == null), j => j.DurationMs),
            "total_tokens" => First(jobs, j => j.TotalTokens),
            "cost_usd" => First(jobs, j => j.CostUsd),
            _ => First(jobs, j => j.CreatedAt),
        };

        // The created time breaks ties in the chosen direction (newest first by default), the id makes the order total.
        return Field == DefaultField
            ? By(ordered, j => j.Id)
            : By(By(ordered, j => j.CreatedAt), j => j.Id);
    }

    private IOrderedQueryable<WorkflowJob> First<TKey>(IQueryable<WorkflowJob> jobs, System.Linq.Expressions.Expression<Func<WorkflowJob, TKey>> key) =>
        Descending ? jobs.OrderByDescending(key) : jobs.OrderBy(key);

    private IOrderedQueryable<WorkflowJob> By<TKey>(IOrderedQueryable<WorkflowJob> jobs, System.Linq.Expressions.Expression<Func<WorkflowJob, TKey>> key) =>
        Descending ? jobs.ThenByDescending(key) : jobs.ThenBy(key);
}
