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
/// entry (reason missed); a paused schedule skips every tick (reason paused); ticks outside its window (start_at,
/// end_at) do not exist; of the rest, <c>none</c> starts only a
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
        // Outside the schedule's window (start_at, end_at) there are no ticks at all: none is recorded.
        foreach (var tick in cron.GetOccurrences(schedule.NextRunAt, now, zone, fromInclusive: true, toInclusive: true)
                     .Select(t => t.ToUniversalTime()).Where(t => InWindow(schedule, t)))
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

        var following = NextInWindow(schedule, cron, zone, last ?? now);
        return new TickPlan(ticks, following ?? now + Never);
    }

    /// <summary>Whether <paramref name="tick"/> lies in the schedule's window: not before start_at, not after end_at.</summary>
    public static bool InWindow(Schedule schedule, DateTimeOffset tick) =>
        (schedule.StartAt is not { } start || tick >= start) && (schedule.EndAt is not { } end || tick <= end);

    /// <summary>
    /// The schedule's first tick after <paramref name="after"/> within its window (UTC): a window not yet open starts at
    /// its first tick at or after start_at; null when no tick is left before end_at (or in the expression).
    /// </summary>
    public static DateTimeOffset? NextInWindow(Schedule schedule, CronExpression cron, TimeZoneInfo zone, DateTimeOffset after)
    {
        var next = schedule.StartAt is { } start && start > after
            ? cron.GetNextOccurrence(start, zone, inclusive: true)
            : cron.GetNextOccurrence(after, zone);
        return next is { } tick && (schedule.EndAt is not { } end || tick <= end) ? tick.ToUniversalTime() : null;
    }

    /// <summary>
    /// How long after its tick a tick's job starts under <c>jitter_seconds</c>: 0 to the jitter, drawn from the schedule
    /// and the tick (not a random generator), so every ticker, and a retried decision, picks the same offset.
    /// </summary>
    public static TimeSpan JitterOf(Schedule schedule, DateTimeOffset tick)
    {
        if (schedule.JitterSeconds <= 0)
        {
            return TimeSpan.Zero;
        }

        Span<byte> key = stackalloc byte[24];
        schedule.Id.TryWriteBytes(key);
        BitConverter.TryWriteBytes(key[16..], tick.ToUnixTimeMilliseconds());
        Span<byte> digest = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(key, digest);
        var hash = BitConverter.ToUInt64(digest);
        return TimeSpan.FromMilliseconds((double)(hash % ((ulong)schedule.JitterSeconds * 1000 + 1)));
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
