using System.Text.Json.Nodes;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>The last run of one maintenance task, as stored in <c>llm_maintenance_runs</c>.</summary>
/// <param name="Task"><c>stale_cleanup</c> or <c>retention</c>.</param>
/// <param name="Runner">The worker that ran it.</param>
/// <param name="Affected">Jobs failed as stale, or deleted.</param>
/// <param name="Details">The task's own figures (per reason, batches, thresholds).</param>
/// <param name="Error">Why the run failed; null when it succeeded.</param>
public sealed record MaintenanceRun(
    string Task, string Runner, DateTimeOffset StartedAt, DateTimeOffset FinishedAt, int Affected, JsonObject? Details, string? Error);
