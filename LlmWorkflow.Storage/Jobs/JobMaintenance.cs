using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// Housekeeping, run on a schedule by the workers (<see cref="ScheduledMaintenance"/>) and on demand by the admin
/// API: failing stale jobs (with an error and their terminal webhook) and deleting finished jobs past their retention.
/// This class sets the thresholds, messages and errors; the statements are <see cref="JobLifecycleStore"/>'s.
/// </summary>
public sealed class JobMaintenance(JobLifecycleStore store, TimeProvider time)
{
    /// <summary>The error type a stale job fails with.</summary>
    public const string StaleErrorType = "stale_job";

    /// <summary>
    /// Fails jobs stuck in processing longer than <paramref name="processingThreshold"/> with an expired lease, and
    /// pending/queued jobs queued (or queued again: retried, woken, resumed) longer than <paramref name="waitingThreshold"/> ago
    /// (72 h by default, as the documents say).
    /// Each gets <c>is_stale</c>, a <c>stale_reason</c>, an error, and its <c>workflow.failed</c> webhook.
    /// </summary>
    public async Task<StaleCleanupResult> CleanupStaleAsync(TimeSpan processingThreshold, TimeSpan waitingThreshold, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var processingMessage = $"The job stopped making progress (no live worker held it for over {Describe(processingThreshold)}) and was marked stale.";
        var waitingMessage = $"The job waited over {Describe(waitingThreshold)} without starting and was marked stale.";
        var failed = await store.FailStaleAsync(
            now,
            new StaleRule(now - processingThreshold, processingMessage, StaleError("processing_timeout", processingMessage, processingThreshold)),
            new StaleRule(now - waitingThreshold, waitingMessage, StaleError("never_started", waitingMessage, waitingThreshold)),
            cancellationToken);
        foreach (var job in failed)
        {
            Telemetry.JobsFinished.Add(1, new KeyValuePair<string, object?>("workflow", job.WorkflowName), new KeyValuePair<string, object?>("status", "failed"));
        }

        var processing = failed.Count(j => j.Reason == "processing_timeout");
        return new StaleCleanupResult(processing, failed.Count - processing);
    }

    private static JsonObject StaleError(string reason, string message, TimeSpan threshold) => JobErrors.ToJson(new WorkflowError
    {
        Type = StaleErrorType,
        Category = ErrorCategory.SystemError,
        Message = message,
        Retryable = true,
        Details = new JsonObject { ["stale_reason"] = reason, ["threshold_seconds"] = threshold.TotalSeconds },
        Suggestions = ["Retry the job; check that workers are running and reading the dispatch streams."],
    });

    /// <summary>
    /// Deletes completed, failed and cancelled jobs created before <paramref name="olderThan"/> ago (their steps, usage
    /// and webhook rows go with them; so do tombstones of jobs deleted before then), <paramref name="batchSize"/> rows per statement and transaction so no statement
    /// holds many locks or stalls the workers' writes.
    /// </summary>
    public async Task<RetentionResult> DeleteFinishedAsync(TimeSpan olderThan, CancellationToken cancellationToken, int batchSize = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return await store.DeleteFinishedAsync(time.GetUtcNow() - olderThan, batchSize, cancellationToken);
    }

    private static string Describe(TimeSpan span) => span.TotalHours >= 1 && span.TotalHours == Math.Floor(span.TotalHours)
        ? $"{span.TotalHours:0} h"
        : $"{span.TotalMinutes:0.#} min";
}

/// <summary>How many jobs a stale cleanup failed: stuck in processing, and never started.</summary>
public sealed record StaleCleanupResult(int Processing, int Waiting)
{
    public int Total => Processing + Waiting;
}

/// <summary>How many finished jobs a retention run deleted, in how many statements.</summary>
public sealed record RetentionResult(int Deleted, int Batches);
