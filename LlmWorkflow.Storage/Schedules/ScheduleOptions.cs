namespace LlmWorkflow.Storage.Schedules;

/// <summary>Settings of schedule ticking (section <c>Schedules</c>).</summary>
public sealed class ScheduleOptions
{
    public const string Section = "Schedules";

    /// <summary>
    /// How far back <c>catch_up: all</c> runs ticks missed during downtime (default one day). Older ticks are recorded
    /// skipped (reason <c>missed</c>) as one row, whatever the policy: an outage never floods the queue beyond it.
    /// </summary>
    public TimeSpan CatchUpWindow { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// How late a tick may be decided and still count as on time for <c>catch_up: none</c> (default one minute):
    /// later than that, the ticker was down and the tick was missed.
    /// </summary>
    public TimeSpan MisfireGrace { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The most ticks of one schedule one transaction decides; a longer backlog takes several, each committed.</summary>
    public int MaxTicksPerPass { get; set; } = 500;
}
