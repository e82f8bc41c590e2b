namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// How far <c>GET /api/v1/jobs</c> counts its matches. An exact count reads every matching row — millions for an
/// unfiltered list of a busy tenant — so it stops one row past a limit: exact below it, a lower bound above it.
/// </summary>
public static class JobListCount
{
    /// <summary>Counts up to this many matches are exact whatever the page.</summary>
    public const int ExactUpTo = 1_000;

    /// <summary>The count limit for a page: at least <see cref="ExactUpTo"/>, and always past the page asked for (so "is there a next page" is answered).</summary>
    public static int LimitFor(int offset, int limit) => (int)Math.Min(int.MaxValue - 1, Math.Max(ExactUpTo, (long)offset + limit));

    /// <summary>The total to report from a count of at most <paramref name="countLimit"/> + 1 rows, and whether it is exact.</summary>
    public static (int Total, bool Exact) Total(int counted, int countLimit) => (counted, counted <= countLimit);
}
