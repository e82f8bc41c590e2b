using Cronos;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>
/// Cron expressions and zones through Cronos, whose daylight-saving rules the API documents: a tick whose local time
/// a spring-forward skips runs at the transition's first valid instant; a tick whose local time a fall-back repeats
/// runs once (at its first occurrence), while a tick every so many minutes or seconds keeps running through both
/// hours of the repeated interval (its wall-clock times recur, and each is a real instant).
/// </summary>
public static class ScheduleCron
{
    /// <summary>The longest expression stored (<c>llm_schedules.cron</c>).</summary>
    public const int MaxLength = 200;

    /// <summary>The expression, or null with the reason it is refused.</summary>
    public static CronExpression? Parse(string? expression, out string? problem)
    {
        problem = null;
        if (expression is { Length: > MaxLength })
        {
            problem = $"cron must be at most {MaxLength} characters.";
            return null;
        }

        var fields = expression?.Split(' ', '\t').Count(f => f.Length > 0) ?? 0;
        if (fields is not (5 or 6))
        {
            problem = "cron must have 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), e.g. \"0 9 * * 1-5\".";
            return null;
        }

        try
        {
            return CronExpression.Parse(expression!, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
        }
        catch (CronFormatException ex)
        {
            problem = $"cron is not a valid expression: {ex.Message}";
            return null;
        }
    }

    /// <summary>The zone for an IANA id (Linux resolves them from the system's tz database), or null.</summary>
    public static TimeZoneInfo? FindZone(string? id) =>
        !string.IsNullOrWhiteSpace(id) && TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : null;

    /// <summary>The next <paramref name="count"/> ticks after <paramref name="after"/>, each with the zone's offset at it.</summary>
    public static IReadOnlyList<DateTimeOffset> NextRuns(CronExpression cron, TimeZoneInfo zone, DateTimeOffset after, int count)
    {
        var runs = new List<DateTimeOffset>(count);
        for (var from = after; runs.Count < count && cron.GetNextOccurrence(from, zone) is { } next; from = next)
        {
            runs.Add(next);
        }

        return runs;
    }
}
