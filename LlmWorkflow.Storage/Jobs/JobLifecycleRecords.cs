using System.Data.Common;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>Reads a returned row's columns by name, so a statement's column order is free to change.</summary>
public static class RowFields
{
    /// <summary>A column that is never NULL in this row.</summary>
    public static T Field<T>(this DbDataReader reader, string column) => reader.GetFieldValue<T>(reader.GetOrdinal(column));

    /// <summary>A column that may be NULL: <c>default</c> (null for references and nullable values) when it is.</summary>
    public static T? FieldOrNull<T>(this DbDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? default : reader.GetFieldValue<T>(ordinal);
    }
}

/// <summary>A job the reconciler marked as dispatched, with the time its band orders it by (queued, or lease lapsed).</summary>
public sealed record MarkedDispatch(JobDispatch Dispatch, DateTimeOffset WaitingSince);

/// <summary>What a worker needs from a claimed job row.</summary>
/// <param name="Attempt">The attempt this run is (the claim's).</param>
/// <param name="HasWebhook">The job has a webhook URL, so its terminal event goes to the outbox.</param>
/// <param name="WebhookEvents">Opt-in events beyond the terminal ones, e.g. <c>workflow.step_completed</c>.</param>
public sealed record ClaimedJob(
    Guid Id, string WorkflowName, JsonNode? Input, int Attempt, string? UserId, string? Username, string? Action,
    decimal? BudgetUsd, bool DebugMode, int Priority, bool HasWebhook, IReadOnlyList<string> WebhookEvents)
{
    /// <summary>The wait the job was last parked on (its step finds its time came), or null.</summary>
    public RunWait? ResumedWait { get; init; }

    /// <summary>The pinned workflow version the job runs; null for jobs from before pinning (they run the current definition).</summary>
    public string? DefinitionHash { get; init; }

    /// <summary>A fork: its first attempt already has checkpoints (copied from its source).</summary>
    public bool IsFork { get; init; }

    /// <summary>The job's tenant: its steps spend from that tenant's dollar budgets (Tenants:&lt;id&gt;:Budgets).</summary>
    public string? TenantId { get; init; }

    /// <summary>The job's concurrency key (<see cref="WorkflowJob.ConcurrencyKey"/>) and its limit; null without one.</summary>
    public string? ConcurrencyKey { get; init; }

    public int? ConcurrencyLimit { get; init; }

    /// <summary>The job's service tier and deadline (<see cref="WorkflowJob.ServiceTier"/>); null reads as standard.</summary>
    public ServiceTierRequest? ServiceTier { get; init; }
}

/// <summary>What a submit inserted: every job's id, and of them those that wait for a slot from the start (no dispatch).</summary>
public sealed record SubmittedJobs(HashSet<Guid> Inserted, HashSet<Guid> WaitingForSlot);

/// <summary>The final state a worker writes for a job.</summary>
/// <param name="ErrorMessage">The <c>error_message</c> column; defaults to the error's own message.</param>
public sealed record JobOutcome(JobStatus Status, JsonNode? Result, WorkflowError? Error, int InputTokens, int OutputTokens, decimal CostUsd, string? ErrorMessage = null);

/// <summary>A checkpointed step row, turned back into a <see cref="StepRecord"/> by the checkpoint store.</summary>
public sealed record StepRecordRow(
    string StepId, string DisplayName, string Type, string Status, int Attempts, DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt, int DurationMs, string? ParentStepId, string? Branch, string? Provider, string? Model,
    int InputTokens, int OutputTokens, decimal? CostUsd)
{
    /// <summary>In a fork: the source job the row was copied from; its usage was paid there, not by this job.</summary>
    public Guid? ReusedFromJobId { get; init; }
}
