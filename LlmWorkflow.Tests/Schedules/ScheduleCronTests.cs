using LlmWorkflow.Storage.Schedules;

namespace LlmWorkflow.Tests.Schedules;

/// <summary>
/// The documented daylight-saving behaviour of a schedule's next runs (Cronos's rules): a local time a spring-forward
/// skips runs at the transition; a local time a fall-back repeats runs once; an interval keeps ticking through both
/// repeated hours. And the planner's pause and catch-up decisions, as a pure function of the clock.
/// </summary>
[UnitTest]
public sealed class ScheduleCronTests
{
    private static readonly TimeZoneInfo Berlin = ScheduleCron.FindZone("Europe/Berlin")!;
    private static readonly TimeZoneInfo NewYork = ScheduleCron.FindZone("America/New_York")!;

    [Fact]
    public void ADailyTickInTheSkippedHourRunsAtTheSpringForwardTransition()
    {
        // Europe/Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
        var cron = ScheduleCron.Parse("30 2 * * *", out _)!;
        var runs = ScheduleCron.NextRuns(cron, Berlin, new DateTimeOffset(2026, 3, 27, 12, 0, 0, TimeSpan.Zero), 3);

        Assert.Equal(
        [
            new DateTimeOffset(2026, 3, 28, 2, 30, 0, TimeSpan.FromHours(1)),
            new DateTimeOffset(2026, 3, 29, 3, 0, 0, TimeSpan.FromHours(2)),
            new DateTimeOffset(2026, 3, 30, 2, 30, 0, TimeSpan.FromHours(2)),
        ], runs);
        Assert.Equal(TimeSpan.FromHours(2), runs[1].Offset);
        Assert.Equal(new DateTime(2026, 3, 29, 1, 0, 0), runs[1].UtcDateTime);
    }

    [Fact]
    public void ADailyTickInTheRepeatedHourRunsOnceAtTheFallBack()
    {
        // Europe/Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, the tick runs once.
        var cron = ScheduleCron.Parse("30 2 * * *", out _)!;
        var runs = ScheduleCron.NextRuns(cron, Berlin, new DateTimeOffset(2026, 10, 24, 12, 0, 0, TimeSpan.Zero), 2);

        Assert.Equal(
        [
            new DateTimeOffset(2026, 10, 25, 2, 30, 0, TimeSpan.FromHours(2)),
            new DateTimeOffset(2026, 10, 26, 2, 30, 0, TimeSpan.FromHours(1)),
        ], runs);
    }

    [Fact]
    public void AnIntervalTicksThroughBothRepeatedHoursAtTheFallBack()
    {
        // America/New_York, 2026-11-01: 02:00 EDT falls back to 01:00 EST.
        var cron = ScheduleCron.Parse("*/30 * * * *", out _)!;
        var runs = ScheduleCron.NextRuns(cron, NewYork, new DateTimeOffset(2026, 11, 1, 0, 45, 0, TimeSpan.FromHours(-4)), 5);

        Assert.Equal(
        [
            new DateTimeOffset(2026, 11, 1, 1, 0, 0, TimeSpan.FromHours(-4)),
            new DateTimeOffset(2026, 11, 1, 1, 30, 0, TimeSpan.FromHours(-4)),
            new DateTimeOffset(2026, 11, 1, 1, 0, 0, TimeSpan.FromHours(-5)),
            new DateTimeOffset(2026, 11, 1, 1, 30, 0, TimeSpan.FromHours(-5)),
            new DateTimeOffset(2026, 11, 1, 2, 0, 0, TimeSpan.FromHours(-5)),
        ], runs);
        // Every run a real, distinct instant half an hour after the one before.
        Assert.All(runs.Zip(runs.Skip(1)), pair => Assert.Equal(TimeSpan.FromMinutes(30), pair.Second - pair.First));
    }

    [Theory]
    [InlineData("0 9 * * 1-5", true)]
    [InlineData("*/10 * * * * *", true)]
    [InlineData("0 9 * *", false)]
    [InlineData("0 0 9 * * * *", false)]
    [InlineData("61 * * * *", false)]
    [InlineData("every day", false)]
    public void CronNeedsFiveOrSixValidFields(string expression, bool valid)
    {
        var cron = ScheduleCron.Parse(expression, out var problem);
        Assert.Equal(valid, cron is not null);
        Assert.Equal(valid, problem is null);
    }

    [Fact]
    public void ZonesAreIanaIds()
    {
        Assert.NotNull(ScheduleCron.FindZone("Asia/Kolkata"));
        Assert.NotNull(ScheduleCron.FindZone("UTC"));
        Assert.Null(ScheduleCron.FindZone("Mars/Olympus_Mons"));
        Assert.Null(ScheduleCron.FindZone(""));
    }

    // The planner: an hourly schedule due at 10:00 decided at 15:10 (five hours of downtime): ticks 10:00-15:00.
    private static readonly DateTimeOffset Due = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Late = Due + TimeSpan.FromHours(5) + TimeSpan.FromMinutes(10);

    [Theory]
    [InlineData(ScheduleCatchUp.None, new bool[] { false, false, false, false, false, false })]
    [InlineData(ScheduleCatchUp.Last, new bool[] { false, false, false, false, false, true })]
    [InlineData(ScheduleCatchUp.All, new bool[] { true, true, true, true, true, true })]
    public void CatchUpDecidesWhichMissedTicksStart(string catchUp, bool[] starts)
    {
        var plan = Plan(Hourly(catchUp), Late, new ScheduleOptions());

        Assert.Equal(starts, plan.Ticks.Select(t => t.Start));
        Assert.Equal(Enumerable.Range(0, 6).Select(h => Due.AddHours(h)), plan.Ticks.Select(t => t.TickAt));
        Assert.All(plan.Ticks.Where(t => !t.Start), t => Assert.Equal(TickReasons.Missed, t.Reason));
        Assert.Equal(Due.AddHours(6), plan.NextRunAt);
    }

    [Fact]
    public void ATickDecidedWithinTheGraceRunsUnderCatchUpNone()
    {
        var plan = Plan(Hourly(ScheduleCatchUp.None), Due.AddSeconds(2), new ScheduleOptions());

        var tick = Assert.Single(plan.Ticks);
        Assert.True(tick.Start);
        Assert.Equal(Due.AddHours(1), plan.NextRunAt);
    }

    [Fact]
    public void TicksBeyondTheCatchUpWindowAreOneSkippedRowNeverAFlood()
    {
        var plan = Plan(Hourly(ScheduleCatchUp.All), Late, new ScheduleOptions { CatchUpWindow = TimeSpan.FromHours(2) });

        // 10:00-13:00 are older than 13:10: one row for four ticks; 14:00 and 15:00 run.
        Assert.Equal([(Due, false, 4), (Due.AddHours(4), true, 1), (Due.AddHours(5), true, 1)], plan.Ticks.Select(t => (t.TickAt, t.Start, t.Count)));
        Assert.Equal(TickReasons.Missed, plan.Ticks[0].Reason);
    }

    [Fact]
    public void APausedScheduleSkipsEveryTickWithReasonPaused()
    {
        var plan = Plan(Hourly(ScheduleCatchUp.All) with { Paused = true }, Due.AddHours(2), new ScheduleOptions());

        Assert.Equal(3, plan.Ticks.Count);
        Assert.All(plan.Ticks, t => Assert.Equal((false, TickReasons.Paused), (t.Start, t.Reason)));
    }

    [Fact]
    public void ALongBacklogIsDecidedInBoundedPasses()
    {
        var options = new ScheduleOptions { MaxTicksPerPass = 2 };
        var schedule = Hourly(ScheduleCatchUp.Last);
        var first = Plan(schedule, Late, options);
        var second = Plan(schedule with { NextRunAt = first.NextRunAt }, Late, options);

        Assert.Equal([Due, Due.AddHours(1)], first.Ticks.Select(t => t.TickAt));
        Assert.Equal([Due.AddHours(2), Due.AddHours(3)], second.Ticks.Select(t => t.TickAt));
        Assert.DoesNotContain(first.Ticks.Concat(second.Ticks), t => t.Start);
    }

    [Theory]
    [InlineData(ScheduleCatchUp.None)]
    [InlineData(ScheduleCatchUp.Last)]
    public void ATriggeredMomentIsOneStartedTickAndTheCronsNextTickStays(string catchUp)
    {
        // POST …/trigger at 10:17 made next_run_at 10:17, which the hourly cron never is: that moment runs, 11:00 follows.
        var triggered = Due.AddMinutes(17);
        var plan = Plan(Hourly(catchUp) with { NextRunAt = triggered }, triggered.AddSeconds(1), new ScheduleOptions());

        var tick = Assert.Single(plan.Ticks);
        Assert.Equal((triggered, true), (tick.TickAt, tick.Start));
        Assert.Equal(Due.AddHours(1), plan.NextRunAt);
    }

    [Fact]
    public void NoTickLiesOutsideTheWindowAndTheNextTickWaitsForItToOpen()
    {
        // Window 11:30-13:00 over an hourly cron: 10:00 and 11:00 are before it, 12:00 and 13:00 in it, 14:00 after it.
        var windowed = Hourly(ScheduleCatchUp.All) with { StartAt = Due.AddMinutes(90), EndAt = Due.AddHours(3) };
        var beforeIt = Plan(windowed, Due.AddHours(1).AddSeconds(1), new ScheduleOptions());
        Assert.Empty(beforeIt.Ticks);
        Assert.Equal(Due.AddHours(2), beforeIt.NextRunAt);

        var inIt = Plan(windowed with { NextRunAt = Due.AddHours(2) }, Due.AddHours(3).AddSeconds(1), new ScheduleOptions());
        Assert.Equal([Due.AddHours(2), Due.AddHours(3)], inIt.Ticks.Select(t => t.TickAt));
        Assert.All(inIt.Ticks, t => Assert.True(t.Start));
        // After end_at no tick is left: the next one is "never", so no ticker wakes for it.
        Assert.True(inIt.NextRunAt > Due.AddYears(50), inIt.NextRunAt.ToString("O"));
        Assert.Null(TickPlanner.NextInWindow(windowed, ScheduleCron.Parse(windowed.Cron, out _)!, TimeZoneInfo.Utc, Due.AddHours(3)));
    }

    [Fact]
    public void JitterIsWithinItsBoundTheSameForOneTickAndSpreadOverTicks()
    {
        var jittered = Hourly(ScheduleCatchUp.Last) with { JitterSeconds = 60 };
        var offsets = Enumerable.Range(0, 50).Select(h => TickPlanner.JitterOf(jittered, Due.AddHours(h))).ToList();
        Assert.All(offsets, o => Assert.InRange(o, TimeSpan.Zero, TimeSpan.FromSeconds(60)));
        Assert.True(offsets.Distinct().Count() > 40, "the offsets should differ from tick to tick");
        Assert.Equal(offsets[7], TickPlanner.JitterOf(jittered with { }, Due.AddHours(7)));
        Assert.Equal(TimeSpan.Zero, TickPlanner.JitterOf(jittered with { JitterSeconds = 0 }, Due));
    }

    private static TickPlan Plan(Schedule schedule, DateTimeOffset now, ScheduleOptions options) =>
        TickPlanner.Plan(schedule, ScheduleCron.Parse(schedule.Cron, out _)!, ScheduleCron.FindZone(schedule.TimeZone)!, now, options);

    private static Schedule Hourly(string catchUp) => new()
    {
        Id = Guid.NewGuid(),
        TenantId = "t",
        Name = "hourly",
        WorkflowName = "hello_transform",
        Cron = "0 * * * *",
        TimeZone = "UTC",
        InputData = "{}",
        CatchUp = catchUp,
        NextRunAt = Due,
        CreatedAt = Due,
        UpdatedAt = Due,
    };
}
