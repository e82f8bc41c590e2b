using System.Collections.Concurrent;
using System.Diagnostics;
using LlmWorkflow.Contracts;
using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Storage.Approvals;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>The run's end: finish, park, hand back, or end without writing when a newer attempt took the job over.</summary>
internal sealed partial class JobRun
{
    // ---- The run's end: finish, park, hand back, or taken over ----

    /// <summary>
    /// Stores the outcome with the step rows still deferred (free steps, the last step) first, in one transaction, then
    /// publishes the run's last live event. When the last step called out, that is a paid answer, held like a checkpoint
    /// through an outage.
    /// </summary>
    /// <returns>Whether this attempt finished the job (false: another attempt owns it, or it was already finished).</returns>
    public async Task<bool> FinishAsync(JobOutcome outcome)
    {
        var holdsPaidAnswer = HoldsLastPaidStep;
        var rows = await TakeDeferredAsync();
        var finished = await CommitFinishAsync(outcome, rows, holdsPaidAnswer ? $"the last step and the finish of job {job.Id}" : null);
        if (finished)
        {
            PublishOutcome();
        }

        return finished;
    }

    /// <summary>
    /// Parks the job on <paramref name="wait"/> after the step rows still deferred, in one transaction; when the park is
    /// refused (its cancel was requested while it ran), the job is finished as cancelled instead. The caller publishes
    /// the outcome (<see cref="PublishOutcome"/>) once the wait stands (a signal that came first may resume it at once).
    /// </summary>
    /// <returns>Whether the job is parked.</returns>
    public async Task<bool> ParkAsync(RunWait wait)
    {
        if (await store.ParkAsync(job.Id, workerId, job.Attempt, wait, await TakeDeferredAsync()))
        {
            return true;
        }

        // Its cancel was requested while it ran (or another attempt owns it, and then this finish matches nothing).
        await CommitFinishAsync(new JobOutcome(JobStatus.Cancelled, null, null, 0, 0, 0m), [], heldAs: null);
        return false;
    }

    /// <summary>
    /// Shutting down, or PostgreSQL dropped out under the run (not the job's fault): gives the job back so a worker
    /// resumes it from its checkpoints. If PostgreSQL is still down this throws and the job keeps its lease until it lapses.
    /// </summary>
    public async Task HandBackAsync()
    {
        await EndWithoutFinishAsync();
        await store.ReleaseAsync(job.Id, workerId, CancellationToken.None, job.Attempt);
    }

    /// <summary>
    /// The run ends without its finish (it is handed back or taken over). Drops the deferred rows of free steps (a
    /// resumed run computes those steps again), once a delayed write of earlier rows has settled, so no write of this
    /// run outlives it; a pending delayed write then finds nothing to write. The last step's rows, if it called out,
    /// are written instead (held like a checkpoint): its usage rows record paid calls whoever owns the job now, and its
    /// checkpoint, if this attempt still owns the job, spares the resumed run the call.
    /// </summary>
    public async Task EndWithoutFinishAsync()
    {
        await TakeDeferredAsync(keepLastPaidStep: true);
        List<WriteStatement>? rows;
        lock (_deferred)
        {
            rows = _lastPaidStep;
            _lastPaidStep = null;
        }

        if (rows is not null)
        {
            // Refused when another attempt owns the job: then its usage rows went in regardless, and the run stops anyway.
            await GuardAsync(() => store.WriteHeldStepAsync(job.Id, rows, $"the last step of job {job.Id}"));
        }
    }

    private async Task<bool> CommitFinishAsync(JobOutcome outcome, IReadOnlyList<WriteStatement> stepRows, string? heldAs)
    {
        var finished = await store.FinishAsync(job.Id, workerId, outcome, CancellationToken.None, job.Attempt, stepRows, heldAs);
        if (finished)
        {
            Telemetry.JobsFinished.Add(1,
                new KeyValuePair<string, object?>("workflow", job.WorkflowName),
                new KeyValuePair<string, object?>("status", outcome.Status.ToWire()));
            // The terminal webhook event was recorded by the same statement (JobLifecycleStore.FinishStatement).
            LogFinished(_logger, job.Id, job.WorkflowName, outcome.Status.ToWire());
        }

        return finished;
    }
}
