using System.ComponentModel;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Api.Contracts;

/// <summary>Body of <c>POST /api/v1/schedules</c>.</summary>
public sealed record CreateScheduleRequest
{
    [Description("A name for people (1-200 characters), e.g. 'nightly digest'.")]
    public string? Name { get; init; }

    [Description("Name of a workflow in the catalog (GET /api/v1/workflows); every tick runs it.")]
    public string? WorkflowName { get; init; }

    [Description("Cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, e.g. \"0 9 * * 1-5\" or \"*/10 * * * * *\".")]
    public string? Cron { get; init; }

    [Description("IANA time zone whose wall clock the cron expression reads, e.g. Europe/Berlin. Default UTC.")]
    public string? Timezone { get; init; }

    [Description("Input every tick's job gets: a JSON object, checked against the workflow's input_schema.")]
    public JsonNode? InputData { get; init; }

    [Description("0-10, higher runs first. Default 0.")]
    public int? Priority { get; init; }

    [Description("Where to POST each tick's job result (the webhook URL policy applies).")]
    public string? WebhookUrl { get; init; }

    [Description("HMAC secret for the jobs' webhook signatures (else the service-wide LLM_WEBHOOK_SECRET). Never returned.")]
    public string? WebhookSecret { get; init; }

    [Description("While the previous job of this schedule has not finished: skip (record the tick skipped, the default), allow (start anyway), cancel_previous (cancel it, then start), buffer_one (record the tick buffered and start its job as soon as the previous job ends; a tick while one is buffered is skipped, reason overlap).")]
    public string? Overlap { get; init; }

    [Description("Ticks missed while the service was down: none (record them skipped), last (run only the latest, the default), all (run each within Schedules:CatchUpWindow, oldest first).")]
    public string? CatchUp { get; init; }

    [Description("Create it paused: its ticks are recorded skipped (reason paused) until it is resumed. Default false.")]
    public bool? Paused { get; init; }

    [Description("Each tick's job starts up to this many seconds after the tick (0-3600, default 0), the same offset for a tick whichever worker decides it: spreads schedules that share a time. The job is 'scheduled' until then.")]
    public int? JitterSeconds { get; init; }

    [Description("No tick before this time (RFC 3339 with an offset); the first run is the cron's first tick at or after it.")]
    public string? StartAt { get; init; }

    [Description("No tick after this time (RFC 3339 with an offset, after start_at); past it the schedule stays but never runs again.")]
    public string? EndAt { get; init; }
}

/// <summary>Body of <c>PATCH /api/v1/schedules/{schedule_id}</c>: only the fields sent change.</summary>
public sealed record UpdateScheduleRequest
{
    [Description("A new name.")]
    public string? Name { get; init; }

    [Description("A new cron expression; the next tick is computed from now.")]
    public string? Cron { get; init; }

    [Description("A new IANA time zone; the next tick is computed from now.")]
    public string? Timezone { get; init; }

    [Description("New input for the ticks' jobs (a JSON object, checked against the workflow's input_schema).")]
    public JsonNode? InputData { get; init; }

    [Description("A new priority, 0-10.")]
    public int? Priority { get; init; }

    [Description("A new webhook URL; an empty string removes it.")]
    public string? WebhookUrl { get; init; }

    [Description("A new webhook signing secret; an empty string removes it.")]
    public string? WebhookSecret { get; init; }

    [Description("skip | allow | cancel_previous | buffer_one (see CreateScheduleRequest.overlap).")]
    public string? Overlap { get; init; }

    [Description("none | last | all.")]
    public string? CatchUp { get; init; }

    [Description("true pauses the schedule (its ticks are recorded skipped, reason paused), false resumes it.")]
    public bool? Paused { get; init; }

    [Description("Each tick's job starts up to this many seconds after the tick (0-3600, default 0), the same offset for a tick whichever worker decides it: spreads schedules that share a time. The job is 'scheduled' until then.")]
    public int? JitterSeconds { get; init; }

    [Description("No tick before this time (RFC 3339 with an offset); the first run is the cron's first tick at or after it. An empty string removes it.")]
    public string? StartAt { get; init; }

    [Description("No tick after this time (RFC 3339 with an offset, after start_at); past it the schedule stays but never runs again. An empty string removes it.")]
    public string? EndAt { get; init; }
}

/// <summary>A schedule, with its next five ticks.</summary>
public sealed record ScheduleResponse(
    Guid ScheduleId,
    string Name,
    string WorkflowName,
    string Cron,
    string Timezone,
    JsonNode? InputData,
    int Priority,
    string? WebhookUrl,
    string Overlap,
    string CatchUp,
    bool Paused,
    [property: Description("The next tick not yet decided (UTC).")] DateTimeOffset NextRunAt,
    [property: Description("The next five ticks from now, each in UTC and in the schedule's zone (with its offset then).")] IReadOnlyList<ScheduleRunTime> NextRuns,
    string? UserId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    [property: Description("The jobs this schedule started: GET /api/v1/jobs?schedule_id=…")] string JobsUrl,
    [property: Description("The schedule's decided ticks: GET /api/v1/schedules/{schedule_id}/ticks")] string TicksUrl,
    [property: Description("Each tick's job starts up to this many seconds after its tick.")] int JitterSeconds = 0,
    [property: Description("No tick before this time; null: from creation.")] DateTimeOffset? StartAt = null,
    [property: Description("No tick after this time; null: without end.")] DateTimeOffset? EndAt = null,
    [property: Description("Under overlap buffer_one: the tick waiting for the previous job to end (its job starts then); null when none waits.")] DateTimeOffset? BufferedTickAt = null);

/// <summary>One coming tick: the instant in UTC and the same instant on the schedule's wall clock.</summary>
public sealed record ScheduleRunTime(DateTimeOffset Utc, DateTimeOffset Local);

/// <summary>A page of the caller's schedules, oldest first.</summary>
public sealed record ScheduleListResponse(IReadOnlyList<ScheduleResponse> Schedules, long Total, int Limit, int Offset);

/// <summary>A schedule's decided ticks, newest first.</summary>
public sealed record ScheduleTickListResponse(Guid ScheduleId, IReadOnlyList<ScheduleTickView> Ticks);

/// <summary>One decided tick: started (with its job), skipped (with the reason: paused, overlap, missed, no_concurrency_key) or buffered.</summary>
public sealed record ScheduleTickView(
    DateTimeOffset TickAt,
    [property: Description("started | skipped | buffered (overlap buffer_one: waiting for the previous job to end, then started with its job)")] string Outcome,
    [property: Description("Why a tick was skipped: paused, overlap (the previous job had not finished; under buffer_one, another tick was already buffered), missed (the service was down at its time), no_concurrency_key (the schedule's input no longer gives its workflow's concurrency key); null when started.")] string? Reason,
    Guid? JobId,
    [property: Description("How many ticks from tick_at this row stands for: 1, or more for ticks missed beyond the catch-up window, recorded as one.")] int TickCount,
    DateTimeOffset RecordedAt);

/// <summary>Why a schedule action was refused (409).</summary>
public sealed record ScheduleActionResponse(Guid ScheduleId, string Status, string Message);

/// <summary>Body of <c>POST /api/v1/schedules/{schedule_id}/backfill</c>.</summary>
public sealed record BackfillScheduleRequest
{
    [Description("The first moment of the range (RFC 3339 with an offset); its ticks at or after it are backfilled.")]
    public string? From { get; init; }

    [Description("The last moment of the range (RFC 3339 with an offset, not in the future); ticks at or before it are backfilled.")]
    public string? To { get; init; }
}

/// <summary>What a backfill did: the ticks it started now, and those already started before (left alone).</summary>
public sealed record ScheduleBackfillResponse(
    Guid ScheduleId,
    [property: Description("The ticks started by this backfill, each with its new job (action schedule.backfill).")] IReadOnlyList<ScheduleTickView> Started,
    [property: Description("The range's ticks a tick or an earlier backfill had already started: no second job.")] IReadOnlyList<DateTimeOffset> AlreadyStarted);
