namespace LlmWorkflow.Storage.Jobs;

/// <summary>Dispatch settings (configuration section <c>Queue</c>).</summary>
public sealed class QueueOptions
{
    public const string Section = "Queue";

    /// <summary>Prefix of every Redis key the service owns, so several deployments can share one Redis.</summary>
    public string KeyPrefix { get; set; } = "llmwf";

    /// <summary>The single consumer group all workers join.</summary>
    public string ConsumerGroup { get; set; } = "workers";

    /// <summary>
    /// The longest an idle reader (a worker's job read, a live-events request) waits before reading again when no
    /// pub/sub notice woke it: the safety net for a notice lost while a connection was re-established.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Every Nth read looks at the bands in reverse order (low first), so a steady stream of high-priority
    /// work delays low-priority jobs by at most N reads instead of starving them.
    /// </summary>
    public int LowPriorityEveryNthRead { get; set; } = 10;

    /// <summary>
    /// Approximate cap per dispatch stream, a backstop only: entries are deleted as they are acknowledged (at claim),
    /// so a stream holds just the entries no worker has claimed yet. The cap would drop the oldest of those.
    /// </summary>
    public long MaxStreamLength { get; set; } = 1_000_000;

    /// <summary>
    /// The longest the API waits for Redis to take a new job's dispatch entry. Past it the submission is answered
    /// anyway (the job is stored in PostgreSQL) and the worker's reconciler dispatches it on its next tick, so a stalled
    /// Redis delays jobs, never the caller.
    /// </summary>
    public TimeSpan SubmitDispatchTimeout { get; set; } = TimeSpan.FromSeconds(1);
}
