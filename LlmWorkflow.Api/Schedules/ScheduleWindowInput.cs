using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Storage.Schedules;

namespace LlmWorkflow.Api.Schedules;

/// <summary>
/// Reads a schedule's extras from a create or an update: <c>jitter_seconds</c> (0-3600) and the window
/// <c>start_at</c>/<c>end_at</c> (RFC 3339 with an offset; on an update an empty string removes one). Every problem
/// names its field.
/// </summary>
internal static class ScheduleWindowInput
{
    /// <summary>The most a tick's job may start late under jitter: an hour.</summary>
    public const int MaxJitterSeconds = 3600;

    /// <summary><paramref name="current"/> with the fields sent applied, or the problems.</summary>
    public static Schedule Apply(Schedule current, int? jitterSeconds, string? startAt, string? endAt, List<SubmissionProblem> problems)
    {
        if (jitterSeconds is < 0 or > MaxJitterSeconds)
        {
            problems.Add(new("jitter_seconds", $"jitter_seconds must be between 0 and {MaxJitterSeconds}; got {jitterSeconds}."));
        }

        var start = Read("start_at", startAt, current.StartAt, problems);
        var end = Read("end_at", endAt, current.EndAt, problems);
        if (start is { } from && end is { } to && to <= from)
        {
            problems.Add(new("end_at", $"end_at ({to:O}) must come after start_at ({from:O})."));
        }

        return current with { JitterSeconds = jitterSeconds ?? current.JitterSeconds, StartAt = start, EndAt = end };
    }

    private static DateTimeOffset? Read(string field, string? text, DateTimeOffset? current, List<SubmissionProblem> problems)
    {
        if (text is null)
        {
            return current;
        }

        if (text.Length == 0)
        {
            return null;
        }

        if (!RunAtInput.TryParseRfc3339(text, out var time))
        {
            problems.Add(new(field, $"{field} must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00Z; got '{RunAtInput.Shorten(text)}'."));
            return current;
        }

        return time.ToUniversalTime();
    }
}
