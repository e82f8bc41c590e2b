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
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The run's ends other than its finish, which a job that runs once straight through never meets: a park on a wait
/// (with an approval's decision links in its live event), a hand-back, and the end of a run another attempt took over.
/// </summary>
internal sealed partial class JobRun
{
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

    /// <summary>The usage rows of calls whose step never recorded (the run stopped inside it), each step's in its own write.</summary>
    private async Task FlushUnrecordedUsageAsync()
    {
        string[] keys;
        lock (_usage)
        {
            keys = [.. _usage.Keys];
        }

        try
        {
            foreach (var key in keys)
            {
                var rows = TakeUsage(key);
                if (rows.Count > 0)
                {
                    await GuardAsync(() => store.WriteHeldStepAsync(job.Id, rows, $"the LLM usage of step \"{key}\" of job {job.Id}"));
                }
            }
        }
        catch (TimeoutException)
        {
            // Held past Worker:HoldWritesFor (logged, and recorded as a persistence fault): the run is handed back.
        }
    }

    /// <summary>
    /// An approval wait's <c>run_waiting</c> with its decision links, as the <c>workflow.waiting</c> webhook carries them,
    /// so a main app watching the stream can put them in front of a person; null (the plain event) when they cannot be issued.
    /// </summary>
    private RunWaitingEvent? WithDecisionLinks(RunWaiting waiting)
    {
        if (approvalLinks is null)
        {
            return null;
        }

        try
        {
            var described = WaitDescriptions.Describe(job.Id, waiting.Wait, approvalLinks);
            return new RunWaitingEvent(waiting.RunId, waiting.Timestamp, described.StepId, described.Kind, described.Until, described.Event,
                described.Prompt, described.DecisionUrl, described.ApproveUrl, described.RejectUrl, described.LinksExpireAt);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null; // the key ring is unreadable: the wait stands, its links are on the status once it is
        }
    }
}
