namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// A module's rows that the retention task deletes beside the finished jobs (a schedule's tick history). Each module
/// registers its own, so the job core's maintenance names no module.
/// </summary>
public interface IRetentionPurge
{
    /// <summary>The count's name in the retention run's details (<c>GET /admin/maintenance</c>), e.g. <c>schedule_ticks_purged</c>.</summary>
    string DetailName { get; }

    /// <summary>Deletes the module's rows older than <paramref name="before"/> in batches; returns how many went.</summary>
    Task<int> PurgeBeforeAsync(DateTimeOffset before, int batchSize, CancellationToken cancellationToken);
}
