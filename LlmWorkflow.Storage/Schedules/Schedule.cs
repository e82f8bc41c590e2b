namespace LlmWorkflow.Storage.Schedules;

/// <summary>
/// A row of <c>llm_schedules</c>: a workflow run started on every tick of a cron expression in a time zone, owned by a
/// tenant (and, within it, a user) like a job. <see cref="NextRunAt"/> is the next tick not yet decided.
/// </summary>
public sealed record Schedule
{
    public required Guid Id { get; init; }

    public required string TenantId { get; init; }

    public string? UserId { get; init; }

    public required string Name { get; init; }

    public required string WorkflowName { get; init; }

    /// <summary>Five fields (minute precision) or six (the first is seconds).</summary>
    public required string Cron { get; init; }

    /// <summary>An IANA time zone id: the cron expression reads the wall clock there.</summary>
    public required string TimeZone { get; init; }

    /// <summary>The input every tick's job gets (a JSON object, as text).</summary>
    public required string InputData { get; init; }

    public int Priority { get; init; }

    public string? WebhookUrl { get; init; }

    /// <summary>The webhook signing secret as <c>WebhookSecretProtector</c> stored it (copied to each job as is); never returned.</summary>
    public string? WebhookSecret { get; init; }

    public string Overlap { get; init; } = ScheduleOverlap.Skip;

    public string CatchUp { get; init; } = ScheduleCatchUp.Last;

    public bool Paused { get; init; }

    /// <summary>Each tick's job starts up to this many seconds after the tick (0: on the tick), spreading schedules that share a time.</summary>
    public int JitterSeconds { get; init; }

    /// <summary>No tick before this time; null: from creation.</summary>
    public DateTimeOffset? StartAt { get; init; }

    /// <summary>No tick after this time; null: without end.</summary>
    public DateTimeOffset? EndAt { get; init; }

    public required DateTimeOffset NextRunAt { get; init; }

    /// <summary>Under <c>buffer_one</c>: the one tick waiting for the previous job to end (recorded <c>buffered</c>); null when none waits.</summary>
    public DateTimeOffset? BufferedTickAt { get; init; }

    public string? IdempotencyKey { get; init; }

    /// <summary>SHA-256 (hex) of the canonical body of the request that created the schedule with <see cref="IdempotencyKey"/>.</summary>
    public string? IdempotencyFingerprint { get; init; }

    /// <summary>The answer (JSON text, kept as sent) that request got; a repeat of it gets the same. Null without a key.</summary>
    public string? IdempotentResponse { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What a tick does while the schedule's previous job has not finished.</summary>
public static class ScheduleOverlap
{
    /// <summary>The tick is recorded skipped (reason <c>overlap</c>).</summary>
    public const string Skip = "skip";

    /// <summary>The tick starts a job anyway.</summary>
    public const string Allow = "allow";

    /// <summary>The unfinished jobs are cancelled (the cancel command's path) and the tick starts a job.</summary>
    public const string CancelPrevious = "cancel_previous";

    /// <summary>
    /// Temporal's BUFFER_ONE: the tick is recorded <c>buffered</c> and its job starts as soon as the unfinished jobs end
    /// (their terminal transition tells the tickers); a tick while one is buffered is recorded skipped (reason <c>overlap</c>).
    /// </summary>
    public const string BufferOne = "buffer_one";

    public static IReadOnlyList<string> Values { get; } = [Skip, Allow, CancelPrevious, BufferOne];
}

/// <summary>What happens to ticks that fell due while no ticker ran (downtime).</summary>
public static class ScheduleCatchUp
{
    /// <summary>Missed ticks are recorded skipped (reason <c>missed</c>); only a tick decided on time runs.</summary>
    public const string None = "none";

    /// <summary>Only the latest missed tick runs; the others are recorded skipped.</summary>
    public const string Last = "last";

    /// <summary>Every missed tick within <c>Schedules:CatchUpWindow</c> runs, each as its own job, oldest first.</summary>
    public const string All = "all";

    public static IReadOnlyList<string> Values { get; } = [None, Last, All];
}

/// <summary>The reasons a tick was skipped, as <c>llm_schedule_ticks.reason</c> records them.</summary>
public static class TickReasons
{
    public const string Paused = "paused";
    public const string Overlap = "overlap";
    public const string Missed = "missed";

    /// <summary>The schedule's input no longer gives its workflow's concurrency key (the definition changed since).</summary>
    public const string NoConcurrencyKey = "no_concurrency_key";
}

/// <summary>
/// A decided tick: <c>started</c> with its job, <c>skipped</c> with its reason, or <c>buffered</c> (under <c>buffer_one</c>,
/// until the previous job ends: then it is <c>started</c> with its job); <see cref="Count"/> ticks from <see cref="TickAt"/>.
/// </summary>
public sealed record ScheduleTick(Guid ScheduleId, DateTimeOffset TickAt, string Outcome, string? Reason, Guid? JobId, int Count, DateTimeOffset RecordedAt)
{
    public const string Started = "started";
    public const string Skipped = "skipped";
    public const string Buffered = "buffered";
}
