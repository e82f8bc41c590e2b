namespace LlmWorkflow.Storage.Jobs;

/// <summary>Scheduled maintenance in the workers (section <c>Maintenance</c>); the defaults are the documents' thresholds.</summary>
public sealed class MaintenanceOptions
{
    public const string Section = "Maintenance";

    /// <summary>Off: only the admin routes clean up.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often maintenance runs across all workers (one runner at a time).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often each worker checks whether a run is due.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>A processing job whose lease expired and that started longer ago than this is failed as stale.</summary>
    public TimeSpan StaleProcessingAfter { get; set; } = TimeSpan.FromMinutes(60);

    /// <summary>A pending or queued job older than this is failed as stale (documents: 72 hours).</summary>
    public TimeSpan StaleWaitingAfter { get; set; } = TimeSpan.FromHours(72);

    /// <summary>
    /// Finished (completed, failed, cancelled) jobs older than this are deleted (documents: 7 days), and so are the
    /// schedules' tick records for times before it.
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How long the LLM calls (usage rows, what the providers billed) are kept, deleted jobs' calls included: the usage
    /// report counts them until then. Purged by whole UTC months, the months that ended before now minus this.
    /// </summary>
    public TimeSpan UsageRetention { get; set; } = TimeSpan.FromDays(400);

    /// <summary>Rows per DELETE statement of the retention run.</summary>
    public int DeleteBatchSize { get; set; } = 1000;
}
