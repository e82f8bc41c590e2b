using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Storage.Schedules;

namespace LlmWorkflow.Api.Schedules;

/// <summary>Reads a backfill's range and lists its ticks (the cron's, inside the schedule's window); every problem names its field.</summary>
internal static class ScheduleBackfillInput
{
    public static (IReadOnlyList<DateTimeOffset> Ticks, List<SubmissionProblem> Problems) Ticks(Schedule schedule, string? from, string? to, DateTimeOffset now)
    {
        var problems = new List<SubmissionProblem>();
        var start = Read("from", from, problems);
        var end = Read("to", to, problems);
        if (end is { } last && last > now)
        {
            problems.Add(new("to", $"to is in the future ({last:O}; now {now.ToUniversalTime():O}): a backfill starts past ticks only."));
        }

        if (start is { } first && end is { } until && until < first)
        {
            problems.Add(new("to", "to must not come before from."));
        }

        if (problems.Count > 0 || start is null || end is null
            || ScheduleCron.Parse(schedule.Cron, out _) is not { } cron || ScheduleCron.FindZone(schedule.TimeZone) is not { } zone)
        {
            return ([], problems);
        }

        var ticks = cron.GetOccurrences(start.Value, end.Value, zone, fromInclusive: true, toInclusive: true)
            .Select(t => t.ToUniversalTime()).Where(t => TickPlanner.InWindow(schedule, t))
            .Take(ScheduleTickRunner.MaxBackfillTicks + 1).ToList();
        if (ticks.Count > ScheduleTickRunner.MaxBackfillTicks)
        {
            problems.Add(new("to", $"The range holds more than {ScheduleTickRunner.MaxBackfillTicks} ticks of the cron: backfill it in parts."));
            return ([], problems);
        }

        return (ticks, problems);
    }

    private static DateTimeOffset? Read(string field, string? text, List<SubmissionProblem> problems)
    {
        if (string.IsNullOrEmpty(text))
        {
            problems.Add(new(field, $"{field} is required: an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00Z."));
            return null;
        }

        if (!RunAtInput.TryParseRfc3339(text, out var time))
        {
            problems.Add(new(field, $"{field} must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00Z; got '{RunAtInput.Shorten(text)}'."));
            return null;
        }

        return time.ToUniversalTime();
    }
}
