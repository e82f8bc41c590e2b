namespace LlmWorkflow.Storage.Jobs;

/// <summary>Worker settings (configuration section <c>Worker</c>).</summary>
public sealed class WorkerOptions
{
    public const string Section = "Worker";

    /// <summary>Consumer name in the group and lease owner; defaults to host name + process id.</summary>
    public string Id { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>Jobs one worker process runs at once (they are I/O bound: mostly waiting on LLMs).</summary>
    public int MaxConcurrentJobs { get; set; } = 64;

    /// <summary>
    /// How long a claim lasts without renewal (renewed every third of it); a crashed worker's jobs are re-dispatched
    /// by the reconciler within <see cref="ReconcileInterval"/> after this.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>On shutdown, how long in-flight jobs may take to finish before they are released for another worker.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>A job claimed this many times without finishing (its workers keep dying) is dead-lettered and failed.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>
    /// How often a worker looks for stream entries idle longer than <see cref="LeaseDuration"/>: read by a worker
    /// that died before its claim statement decided them (entries are acked right after it).
    /// </summary>
    public TimeSpan ReclaimInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Queued jobs not dispatched for this long are written to the stream again (Redis may have lost them).</summary>
    public TimeSpan RedispatchAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How often the reconciler looks for queued jobs Redis may have lost, for jobs accepted while Redis was down
    /// (stored without dispatched_at), which it dispatches on its first tick after Redis is back, and for running
    /// jobs whose lease lapsed (their worker died), which it dispatches again for another worker to reclaim.
    /// </summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Weighted shares of the workers' slots between tenants: while another tenant has jobs waiting for a worker, a
    /// tenant runs at most its weight's part of every live worker's slots (<c>Tenants:&lt;id&gt;:Weight</c>). Off by
    /// default: with it every claim reads the waiting tenants and every job's end runs one more statement
    /// (docs/ADMISSION.md, "Shares of worker slots between tenants").
    /// </summary>
    public bool TenantSlotShares { get; set; }

    /// <summary>
    /// While PostgreSQL is unreachable, how long a worker holds a finished step's result (its checkpoint and the usage
    /// rows of its LLM calls) and retries writing it before giving up; the job then resumes from its last stored
    /// checkpoint and that step runs again. See docs/JOB_LIFECYCLE.md.
    /// </summary>
    public TimeSpan HoldWritesFor { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The memory (estimated bytes) a worker may hold in such results at once; a result beyond it is not held.</summary>
    public long HoldWritesMaxBytes { get; set; } = 256L * 1024 * 1024;
}
