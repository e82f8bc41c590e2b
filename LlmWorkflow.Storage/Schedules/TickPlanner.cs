using Cronos;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>One due tick and what the schedule's policies make of it before overlap is considered.</summary>
/// <param name="Start">True when the tick should start a job (overlap may still skip it); false: skipped for <paramref name="Reason"/>.</param>
/// <param name="Count">How many ticks from <paramref name="TickAt"/> this stands for (more than one only for ticks beyond the catch-up window).</param>
public sealed record PlannedTick(DateTimeOffset TickAt, bool Start, string? Reason, int Count = 1);

/// <summary>The due ticks one pass decides, and the next tick after them.</summary>
public sealed record TickPlan(IReadOnlyList<PlannedTick> Ticks, DateTimeOffset NextRunAt);

/// <summary>
/// Decides a schedule's due ticks (those in [next_run_at, now]) by its pause and catch-up policies: a pure function of
/// the schedule and the clock, so every ticker decides the same. Ticks older than the catch-up window are one skipped
/// entry (reason missed); a paused schedule skips every tick (reason paused); of the rest, <c>none</c> starts only a
/// tick decided on time (the latest, within the misfire grace), <c>last</c> only the latest, <c>all</c> each.
/// </summary>
public static class TickPlanner
{
    /// <summary>Where the next tick goes when the expression has none left (a date that never recurs): far enough never to wake a ticker.</summary>
    public static readonly TimeSpan Never = TimeSpan.FromDays(365 * 100);

    public static TickPlan Plan(Schedule schedule, CronExpression cron, TimeZoneInfo zone, DateTimeOffset now, ScheduleOptions options)
    {
        var ticks = new List<PlannedTick>();
        var windowStart = now - options.CatchUpWindow;
        DateTimeOffset? last = null;
        DateTimeOffset? firstOld = null;
        var oldCount = 0;
        // Cronos answers in the zone's offset; PostgreSQL's timestamptz takes UTC only.
        foreach (var tick in cron.GetOccurrences(schedule.NextRunAt, now, zone, fromInclusive: true, toInclusive: true).Select(t => t.ToUniversalTime()))
        {
            if (tick < windowStart)
            {
                firstOld ??= tick;
                oldCount++;
                last = tick;
                continue;
            }

            if (ticks.Count + (firstOld is null ? 0 : 1) >= options.MaxTicksPerPass)
            {
                break;
            }

            if (firstOld is { } first && ticks.Count == 0)
            {
                ticks.Add(new PlannedTick(first, false, schedule.Paused ? TickReasons.Paused : TickReasons.Missed, oldCount));
            }

            var next = cron.GetNextOccurrence(tick, zone);
            ticks.Add(Decide(schedule, tick, isLatest: next is not { } n || n > now, now, options));
            last = tick;
        }

        if (firstOld is { } onlyOld && ticks.Count == 0)
        {
            ticks.Add(new PlannedTick(onlyOld, false, schedule.Paused ? TickReasons.Paused : TickReasons.Missed, oldCount));
        }

        // A trigger (POST /schedules/{id}/trigger) set next_run_at to its own moment, which no cron occurrence is: that
        // moment is one more tick, started whatever the catch-up policy (skipped while paused).
        if (schedule.NextRunAt <= now && !cron.GetOccurrences(schedule.NextRunAt, schedule.NextRunAt, zone, fromInclusive: true, toInclusive: true).Any())
        {
            ticks.Insert(0, schedule.Paused
                ? new PlannedTick(schedule.NextRunAt, false, TickReasons.Paused)
                : new PlannedTick(schedule.NextRunAt, true, null));
        }

        var following = last is { } decided ? cron.GetNextOccurrence(decided, zone) : cron.GetNextOccurrence(now, zone);
        return new TickPlan(ticks, (following ?? now + Never).ToUniversalTime());
    }

    private static PlannedTick Decide(Schedule schedule, DateTimeOffset tick, bool isLatest, DateTimeOffset now, ScheduleOptions options)
    {
        if (schedule.Paused)
        {
            return new PlannedTick(tick, false, TickReasons.Paused);
        }

        var start = schedule.CatchUp switch
        {
            ScheduleCatchUp.All => true,
            ScheduleCatchUp.None => isLatest && now - tick <= options.MisfireGrace,
            _ => isLatest,
        };
        return new PlannedTick(tick, start, start ? null : TickReasons.Missed);
    }
}
