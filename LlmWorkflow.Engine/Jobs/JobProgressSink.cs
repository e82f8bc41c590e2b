using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Engine.Jobs;

/// <summary>
/// Turns a run's progress events into durable records (step rows, usage rows, the job's current step) and live
/// events (the job's Redis event stream). Live events are best effort: a Redis hiccup must not fail the job.
/// </summary>
public sealed partial class JobProgressSink(
    JobStore store,
    JobEventStream events,
    ClaimedJob job,
    RunPersistenceFaults faults,
    ILogger logger) : IProgressSink
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
            case StepCompleted { Record.FromCheckpoint: false } completed:
                await faults.GuardAsync(() => store.UpsertStepAsync(job.Id, job.Attempt, completed.Record, null, isCheckpoint: false, cancellationToken));
                break;
            case LlmCallCompleted call:
                await faults.GuardAsync(() => store.InsertUsageAsync(job.Id, call.StepId, job.WorkflowName, call.Result, cancellationToken));
                break;
        }

        await PublishLiveAsync(progressEvent.Kind, ProgressEventJson.ToJson(progressEvent));
    }

    /// <summary>Publishes an event that does not come from the engine (e.g. <c>cancelled</c>).</summary>
    public Task PublishLiveAsync(string type, JsonObject data) => PublishLiveCoreAsync(type, data);

    private async Task PublishLiveCoreAsync(string type, JsonObject data)
    {
        try
        {
            await events.PublishAsync(job.Id, type, data);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogLiveEventFailed(ex, type, job.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish live event {Type} for job {JobId}")]
    private partial void LogLiveEventFailed(Exception ex, string type, Guid jobId);
}
