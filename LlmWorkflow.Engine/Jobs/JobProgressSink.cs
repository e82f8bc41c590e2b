using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Jobs;

/// <summary>
/// Turns a run's progress events into durable records (step rows, usage rows, the job's current step) and live
/// events (the job's Redis event stream, written in the background by <see cref="LiveEventPublisher"/>).
/// </summary>
public sealed class JobProgressSink(
    JobStore store,
    LiveEventPublisher events,
    ClaimedJob job,
    PostgresCheckpointStore checkpoints,
    RunPersistenceFaults faults) : IProgressSink
{
    public async ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken)
    {
        switch (progressEvent)
        {
            case StepStarted started:
                if (started.ParentStepId is null)
                {
                    await faults.GuardAsync(() => store.UpdateProgressAsync(job.Id, started.StepId, started.DisplayName, started.Percent, cancellationToken));
                }

                break;
            // A checkpointed step's row is already written (with its full output): one write per step, not two.
            case StepCompleted { Record.FromCheckpoint: false } completed when !checkpoints.WasSaved(completed.Record.StepKey):
                await faults.GuardAsync(() => store.UpsertStepAsync(job.Id, job.Attempt, completed.Record, null, isCheckpoint: false, cancellationToken));
                break;
            case LlmCallCompleted call:
                await faults.GuardAsync(() => store.InsertUsageAsync(job.Id, call.StepId, job.WorkflowName, call.Result, cancellationToken));
                break;
        }

        events.Publish(job.Id, progressEvent.Kind, ProgressEventJson.ToJson(progressEvent));
    }
}
