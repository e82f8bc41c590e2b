namespace LlmWorkflow.Storage.Jobs;

/// <summary>Every way a job's row changes; each is one guarded SQL statement.</summary>
public enum JobTransition
{
    /// <summary>The API inserts the job (no earlier state).</summary>
    Submit,

    /// <summary>The API inserts a job with a <c>run_at</c> ahead: it waits, holding no slot, until it is due.</summary>
    SubmitScheduled,

    /// <summary>
    /// The API inserts a job whose tenant (or concurrency key) already has as many jobs queued and running as its limit:
    /// it waits for a slot from the start, never entering the dispatch stream, so another tenant's new job is not queued
    /// behind the backlog (docs/ADMISSION.md, "Concurrent jobs per tenant").
    /// </summary>
    SubmitForSlot,

    /// <summary>The caller moves a scheduled job's <c>run_at</c>.</summary>
    Reschedule,

    /// <summary>
    /// Its workflow was paused: a queued job no worker has taken yet is held as scheduled (due at once, but not woken
    /// while the workflow is paused; its resume wakes it).
    /// </summary>
    Hold,

    /// <summary>A scheduled or waiting job's time came: it is queued (and dispatched in the same pass) like a new job.</summary>
    Wake,

    /// <summary>The lease owner parks a running job on a step's wait (a sleep, a wait for a signal): it gives up its lease and slot.</summary>
    Park,

    /// <summary>A signal the waiting job waits for is in its inbox: it is queued (and dispatched) at once.</summary>
    Resume,

    /// <summary>
    /// A worker's claim finds the job's tenant at its <c>MaxConcurrentJobs</c>: the job waits for one of the tenant's
    /// slots, holding none of the worker's (docs/ADMISSION.md, "Concurrent jobs per tenant").
    /// </summary>
    WaitForSlot,

    /// <summary>One of the tenant's running jobs ended: its next job waiting for a slot (by priority, then age) is queued.</summary>
    ResumeForSlot,

    /// <summary>The reconciler re-writes a queued job's stream entry (Redis may have lost it).</summary>
    Dispatch,

    /// <summary>
    /// The reconciler writes a stream entry for a running job whose lease lapsed (its worker died): the lease is the
    /// one record of who runs a job, so this, not the Redis pending list, hands the job to another worker.
    /// </summary>
    DispatchLapsed,

    /// <summary>A worker takes a queued job with a lease.</summary>
    Claim,

    /// <summary>A worker takes a running job whose lease lapsed (its worker died).</summary>
    Reclaim,

    /// <summary>The lease owner extends its lease.</summary>
    Renew,

    /// <summary>The current attempt records a step row or checkpoint, or the running step.</summary>
    Checkpoint,

    /// <summary>The lease owner gives the job back (shutdown, database lost mid-run).</summary>
    Release,

    /// <summary>The lease owner stores a successful outcome.</summary>
    Finish,

    /// <summary>The lease owner stores a failed outcome (including dead-lettering).</summary>
    Fail,

    /// <summary>A waiting job is cancelled by its caller.</summary>
    Cancel,

    /// <summary>A running job is asked to stop; its worker then finishes it as cancelled.</summary>
    RequestCancel,

    /// <summary>The lease owner stops a job whose cancellation was requested.</summary>
    FinishCancelled,

    /// <summary>A failed or cancelled job is queued again (it resumes from its checkpoints).</summary>
    Retry,

    /// <summary>
    /// A finished job (completed included) is queued again from a chosen step: the steps before it keep their
    /// checkpoints, that step and the ones after it run again.
    /// </summary>
    Rerun,

    /// <summary>
    /// The API inserts a fork of a finished job (no earlier state): a new queued job of the same tenant that starts
    /// with copies of its source's checkpoints before the chosen step, and runs from that step on.
    /// </summary>
    Fork,

    /// <summary>The admin cleanup fails jobs stuck without a live worker or waiting too long.</summary>
    StaleCleanup,

    /// <summary>
    /// A job submitted with <c>ttl_seconds</c> that no worker started by its <c>start_by</c> fails as expired (the
    /// claim skips it; Scheduling's expiry, run by the due-job waker, ends it at that time).
    /// </summary>
    Expire,
}

/// <summary>One row of the lifecycle table: the states a transition may start from and the state it leaves.</summary>
internal sealed record JobTransitionRule(JobTransition Transition, IReadOnlyList<JobStatus> From, JobStatus To);

/// <summary>
/// The job lifecycle, written once: which transition may start from which state (docs/JOB_LIFECYCLE.md shows the
/// same table). Every statement that changes a job's row puts <see cref="Guard"/> (or, where it finds the row by id,
/// <see cref="KeyedGuard"/>) in its WHERE clause, so a forbidden transition matches no row, and two racing
/// transitions on one job cannot both win: the second re-checks the guard against the first one's committed row and
/// finds it no longer matches.
/// </summary>
public static class JobLifecycle
{
    private static readonly JobStatus[] Waiting = [JobStatus.Pending, JobStatus.Queued, JobStatus.Scheduled, JobStatus.Waiting];
    private static readonly JobStatus[] Running = [JobStatus.Processing];

    internal static IReadOnlyList<JobTransitionRule> Table { get; } =
    [
        new(JobTransition.Submit, [], JobStatus.Queued),
        new(JobTransition.SubmitScheduled, [], JobStatus.Scheduled),
        new(JobTransition.SubmitForSlot, [], JobStatus.Waiting),
        new(JobTransition.Reschedule, [JobStatus.Scheduled], JobStatus.Scheduled),
        new(JobTransition.Hold, [JobStatus.Queued], JobStatus.Scheduled),
        new(JobTransition.Wake, [JobStatus.Scheduled, JobStatus.Waiting], JobStatus.Queued),
        new(JobTransition.Park, Running, JobStatus.Waiting),
        new(JobTransition.Resume, [JobStatus.Waiting], JobStatus.Queued),
        new(JobTransition.WaitForSlot, [JobStatus.Queued], JobStatus.Waiting),
        new(JobTransition.ResumeForSlot, [JobStatus.Waiting], JobStatus.Queued),
        new(JobTransition.Dispatch, [JobStatus.Queued], JobStatus.Queued),
        new(JobTransition.DispatchLapsed, Running, JobStatus.Processing),
        new(JobTransition.Claim, [JobStatus.Queued], JobStatus.Processing),
        new(JobTransition.Reclaim, Running, JobStatus.Processing),
        new(JobTransition.Renew, Running, JobStatus.Processing),
        new(JobTransition.Checkpoint, Running, JobStatus.Processing),
        new(JobTransition.Release, Running, JobStatus.Queued),
        new(JobTransition.Finish, Running, JobStatus.Completed),
        new(JobTransition.Fail, Running, JobStatus.Failed),
        new(JobTransition.Cancel, Waiting, JobStatus.Cancelled),
        new(JobTransition.RequestCancel, Running, JobStatus.Processing),
        new(JobTransition.FinishCancelled, Running, JobStatus.Cancelled),
        new(JobTransition.Retry, [JobStatus.Failed, JobStatus.Cancelled], JobStatus.Queued),
        new(JobTransition.Rerun, [JobStatus.Completed, JobStatus.Failed, JobStatus.Cancelled], JobStatus.Queued),
        new(JobTransition.Fork, [], JobStatus.Queued),
        new(JobTransition.StaleCleanup, [JobStatus.Pending, JobStatus.Queued, JobStatus.Processing], JobStatus.Failed),
        new(JobTransition.Expire, Waiting, JobStatus.Failed),
    ];

    private static readonly Dictionary<JobTransition, JobTransitionRule> ByTransition = Table.ToDictionary(r => r.Transition);
    private static readonly Dictionary<JobTransition, string> Guards = Table.ToDictionary(r => r.Transition, r => StatusTest(r, ""));

    internal static JobTransitionRule Rule(JobTransition transition) => ByTransition[transition];

    public static bool IsAllowed(JobTransition transition, JobStatus from) => ByTransition[transition].From.Contains(from);

    /// <summary>The states <paramref name="transition"/> may start from.</summary>
    public static IReadOnlyList<JobStatus> From(JobTransition transition) => ByTransition[transition].From;

    /// <summary>
    /// The WHERE-clause predicate on the job's <c>status</c> column, e.g. <c>status IN ('pending', 'queued')</c>; a
    /// constant per transition, so statements built with it keep one text and stay prepared.
    /// </summary>
    public static string Guard(JobTransition transition) => Guards[transition];

    /// <summary>
    /// <see cref="Guard"/> for a statement that finds the job's row by its id, prefixed with <paramref name="alias"/>
    /// (e.g. <c>"j."</c>): the same test, wrapped in <c>IS TRUE</c> so that no index on <c>status</c> can serve it.
    /// When the statistics say a state is rare (a burst of jobs before the next ANALYZE), PostgreSQL otherwise finds
    /// one id by walking every job in that state through a status index, so each statement's cost grows with the jobs
    /// in flight.
    /// </summary>
    public static string KeyedGuard(JobTransition transition, string alias = "") => $"({StatusTest(ByTransition[transition], alias)}) IS TRUE";

    private static string StatusTest(JobTransitionRule rule, string alias) =>
        rule.From.Count == 0 ? "FALSE" : $"{alias}status IN ({string.Join(", ", rule.From.Select(s => $"'{s.ToWire()}'"))})";

    /// <summary>The transition a worker's outcome is stored with.</summary>
    public static JobTransition ForOutcome(JobStatus outcome) => outcome switch
    {
        JobStatus.Completed => JobTransition.Finish,
        JobStatus.Failed => JobTransition.Fail,
        JobStatus.Cancelled => JobTransition.FinishCancelled,
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "A worker's outcome is completed, failed or cancelled."),
    };
}

/// <summary>Lifecycle of a job, stored as lowercase text (the documents' values).</summary>
public enum JobStatus
{
    Pending,
    Queued,
    Processing,
    Completed,
    Failed,
    Cancelled,

    /// <summary>Accepted with a <c>run_at</c> still ahead: it holds no worker slot and is queued when it is due.</summary>
    Scheduled,

    /// <summary>Parked mid-run by a step (a <c>sleep</c>) until its time: no worker slot held; queued again when due.</summary>
    Waiting,
}

public static class JobStatusNames
{
    public static string ToWire(this JobStatus status) => status switch
    {
        JobStatus.Pending => "pending",
        JobStatus.Queued => "queued",
        JobStatus.Processing => "processing",
        JobStatus.Completed => "completed",
        JobStatus.Failed => "failed",
        JobStatus.Cancelled => "cancelled",
        JobStatus.Scheduled => "scheduled",
        JobStatus.Waiting => "waiting",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    private static readonly Dictionary<string, JobStatus> ByWire =
        Enum.GetValues<JobStatus>().ToDictionary(s => s.ToWire(), StringComparer.OrdinalIgnoreCase);

    public static bool TryParse(string? text, out JobStatus status) => ByWire.TryGetValue(text ?? "", out status);

    public static bool IsTerminal(this JobStatus status) =>
        status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;

    public static IReadOnlyList<string> All { get; } = Enum.GetValues<JobStatus>().Select(s => s.ToWire()).ToArray();
}
