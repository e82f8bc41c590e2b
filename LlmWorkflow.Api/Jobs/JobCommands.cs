using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Contracts;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using LlmWorkflow.Engine;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Jobs;

/// <summary>What happened to a cancel request.</summary>
public enum CancelOutcome
{
    NotFound,

    /// <summary>The job had already finished; nothing changed.</summary>
    AlreadyFinished,

    /// <summary>The job was waiting and is now cancelled.</summary>
    Cancelled,

    /// <summary>The job is running; its worker stops it at once, and it ends cancelled whatever its run does meanwhile.</summary>
    CancelRequested,
}

/// <summary>What happened to a retry request.</summary>
public enum RetryOutcome
{
    NotFound,

    /// <summary>Only failed and cancelled jobs can be retried (and only finished ones rerun from a step).</summary>
    NotRetryable,

    /// <summary><c>from_step</c> names no top-level step of the job's workflow.</summary>
    UnknownStep,

    Requeued,
}

/// <summary>
/// Operator and caller actions on existing jobs: cancel, bulk delete, retry. Running jobs are stopped through
/// Postgres (the job's worker watches for cancel requests and deleted rows), so no worker address is needed. The
/// statements are <see cref="JobLifecycleStore"/>'s; this class orders them and tells Redis (a cancel through
/// <see cref="JobCancellation"/>, the path a schedule's cancel_previous takes too).
/// </summary>
public sealed class JobCommands(
    LlmWorkflowDbContext db,
    JobLifecycleStore store,
    JobQueue queue,
    JobEventStream events,
    JobCancellation cancellation,
    WorkflowCatalog catalog,
    LlmWorkflow.Storage.Versions.WorkflowVersions versions,
    TimeProvider time,
    ILogger<JobCommands> logger)
{
    public async Task<CancelOutcome> CancelAsync(Guid jobId, CancellationToken cancellationToken) =>
        await cancellation.CancelAsync(jobId, cancellationToken) switch
        {
            CancelStep.Cancelled => CancelOutcome.Cancelled,
            CancelStep.CancelRequested => CancelOutcome.CancelRequested,
            _ => await db.Jobs.AnyAsync(j => j.Id == jobId, cancellationToken) ? CancelOutcome.AlreadyFinished : CancelOutcome.NotFound,
        };

    /// <summary>How long a delete waits for the workers of running jobs to record their cancel before deleting them.</summary>
    public static readonly TimeSpan CancelBeforeDeleteWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Deletes jobs (with their steps, usage and delivered webhook rows) and leaves a tombstone of each, so its status
    /// URL answers 410 Gone until retention purges it. A waiting or running job is cancelled first, through
    /// <see cref="CancelAsync"/>, so the caller hears of it by its <c>workflow.cancelled</c> webhook, which outlives
    /// the job (signed with the tombstone's secret); a running job whose worker has not recorded the cancel within
    /// <see cref="CancelBeforeDeleteWait"/> gets that event from the delete itself.
    /// </summary>
    /// <param name="tenantId">Only this tenant's jobs (null: any tenant, for admins).</param>
    /// <param name="userId">Only this user's jobs (null: any user of the tenant).</param>
    public async Task<IReadOnlyList<Guid>> DeleteAsync(IReadOnlyCollection<Guid> jobIds, string? tenantId, string? userId, CancellationToken cancellationToken)
    {
        var query = db.Jobs.Where(j => jobIds.Contains(j.Id));
        if (tenantId is not null)
        {
            query = query.Where(j => j.TenantId == tenantId);
        }

        if (userId is not null)
        {
            query = query.Where(j => j.UserId == userId);
        }

        var existing = await query.Select(j => new { j.Id, j.Status }).ToListAsync(cancellationToken);
        if (existing.Count == 0)
        {
            return [];
        }

        var running = new List<Guid>();
        foreach (var job in existing.Where(j => !j.Status.IsTerminal()))
        {
            if (await CancelAsync(job.Id, cancellationToken) == CancelOutcome.CancelRequested)
            {
                running.Add(job.Id);
            }
        }

        await WaitUntilFinishedAsync(running, cancellationToken);
        var ids = existing.Select(j => j.Id).ToArray();
        await store.DeleteAsync(ids, time.GetUtcNow(), cancellationToken);

        foreach (var id in ids)
        {
            await cancellation.PublishCancelledAsync(id);
        }

        return ids;
    }

    /// <summary>Waits (bounded) until the workers of these jobs have recorded their cancel, so their own event is the one sent.</summary>
    private async Task WaitUntilFinishedAsync(List<Guid> jobIds, CancellationToken cancellationToken)
    {
        var unfinished = JobLifecycle.From(JobTransition.RequestCancel);
        for (var deadline = time.GetUtcNow() + CancelBeforeDeleteWait; jobIds.Count > 0 && time.GetUtcNow() < deadline;)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancellationToken);
            var still = await db.Jobs.Where(j => jobIds.Contains(j.Id) && unfinished.Contains(j.Status)).Select(j => j.Id).ToListAsync(cancellationToken);
            jobIds.RemoveAll(id => !still.Contains(id));
        }
    }

    /// <summary>Queues a failed or cancelled job again; it resumes from its checkpoints, so finished steps are not re-run.</summary>
    /// <param name="fromStep">
    /// A top-level step id: rerun the job from it (a completed job too). The steps before it keep their checkpoints
    /// and are not run or paid for again; it and every step after it (nested ones included) run again.
    /// </param>
    public async Task<RetryOutcome> RetryAsync(Guid jobId, string? fromStep, CancellationToken cancellationToken)
    {
        var job = await db.Jobs.AsNoTracking().Where(j => j.Id == jobId).Select(j => new { j.Status, j.Priority, j.WorkflowName, DefinitionHash = WorkflowJob.HashOf(j.DefinitionDigest, j.LegacyDefinitionHash) }).FirstOrDefaultAsync(cancellationToken);
        if (job is null)
        {
            return RetryOutcome.NotFound;
        }

        IReadOnlyCollection<string>? rerun = null;
        if (fromStep is not null)
        {
            // The steps of the version the job is pinned to (the one its rerun runs), not of the files as they are now.
            var workflow = job.DefinitionHash is { } hash
                ? (await versions.FindAsync(job.WorkflowName, hash, cancellationToken))?.Definition
                : catalog.TryGet(job.WorkflowName, out var current) ? current : null;
            if (workflow is null || StepsFrom(workflow, fromStep) is not { } steps)
            {
                return RetryOutcome.UnknownStep;
            }

            rerun = steps;
        }

        if (!await store.RetryAsync(jobId, time.GetUtcNow(), cancellationToken, rerun))
        {
            return RetryOutcome.NotRetryable;
        }

        try
        {
            await events.DeleteAsync(jobId);
            // The retried run's trace continues the retry request's (not an unlinked root trace); the job lists it.
            var request = System.Diagnostics.Activity.Current;
            await queue.EnqueueAsync(new JobDispatch(jobId, job.Priority, request?.Id, request?.TraceStateString), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Retried job {JobId} could not be dispatched now; the reconciler will dispatch it", jobId);
            await store.ClearDispatchMarksAsync([jobId]);
        }

        return RetryOutcome.Requeued;
    }

    /// <summary>The ids of the top-level step <paramref name="fromStep"/>, the top-level steps after it and every step nested in them; null when it is not a top-level step.</summary>
    public static IReadOnlyCollection<string>? StepsFrom(WorkflowDefinition workflow, string fromStep)
    {
        var index = workflow.Steps.ToList().FindIndex(s => s.Id == fromStep);
        if (index < 0)
        {
            return null;
        }

        var rerun = workflow.Steps.Skip(index).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var location in WorkflowWalker.Walk(workflow).Where(l => l.Depth > 0))
        {
            // "$.steps[3].config.then[0]": nested under top-level step 3.
            var top = int.Parse(location.JsonPath.AsSpan(8, location.JsonPath.IndexOf(']', StringComparison.Ordinal) - 8), System.Globalization.CultureInfo.InvariantCulture);
            if (top >= index)
            {
                rerun.Add(location.Step.Id);
            }
        }

        return rerun;
    }
}
