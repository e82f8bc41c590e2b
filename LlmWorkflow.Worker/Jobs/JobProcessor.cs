using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.Logging;
using LlmWorkflow.Engine;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Runs one claimed job in a worker: the engine runs its workflow while <see cref="RunningJobs"/> keeps its lease alive,
/// and its <see cref="JobRun"/> records progress and the outcome: finished, parked on a wait, or handed back. Entries
/// for jobs that could not be claimed (finished, cancelled, owned by a live worker) were simply acknowledged.
/// </summary>
internal sealed partial class JobProcessor(
    JobRuns runs,
    RunnableWorkflows workflows,
    WorkflowRunOptionsFactory runOptions,
    WorkflowRunner runner,
    RunningJobs running,
    UnfinishedRuns unfinished,
    ILogger<JobProcessor> logger)
{
    /// <summary>
    /// Whether the job's workflow waits on the network, so that its start should get its request out before the next
    /// job starts (see <see cref="JobConsumerService"/>).
    /// </summary>
    public bool CallsOut(ClaimedJob? claimed) => workflows.CallsOut(claimed);

    /// <param name="claimed">The job as claimed for this worker, or null when it must not run here (then the entry is acknowledged).</param>
    /// <param name="abort">Fires when the worker gives up on in-flight jobs at the end of its drain timeout.</param>
    public async Task ProcessAsync(DispatchedJob dispatched, ClaimedJob? claimed, CancellationToken abort)
    {
        using var activity = StartActivity(dispatched);
        if (claimed is null)
        {
            // Finished, cancelled, unknown, or run by another worker whose lease still holds: nothing to do here (the
            // entry was acked with its batch). If that worker dies, the reconciler re-dispatches the job once its
            // lease lapses (JobTransition.DispatchLapsed).
            return;
        }

        activity?.SetTag("llmworkflow.workflow", claimed.WorkflowName);
        activity?.DisplayName = $"job.run {claimed.WorkflowName}"; // the trace list names the job, not the stream
        activity?.SetTag("llmworkflow.attempt", claimed.Attempt);
        var wantsStepEvents = claimed.HasWebhook && claimed.WebhookEvents.Contains(WebhookEventTypes.StepCompleted);
        // The run owns every write of this job from here: step rows, usage, progress, live events and its end.
        using var run = runs.Start(claimed, abort, deferStepRows: !wantsStepEvents);
        if (activity is not null && activity.TraceId.ToHexString() != JobClaims.RunTraceId(dispatched))
        {
            run.RecordAttemptTrace(activity); // the claim recorded the dispatch's trace, not this one
        }

        if (await workflows.FindAsync(dispatched, claimed, run, activity) is not { } toRun)
        {
            return;
        }

        // From here RunningJobs keeps the job's lease (one statement for all running jobs) and stops the run on a cancel.
        // (Inline rather than a method of its own: one async state machine fewer per job.)
        running.Add(claimed.Id, run.Stop);
        WorkflowRunResult result;
        try
        {
            var options = await runOptions.ForAsync(claimed, run, toRun, wantsStepEvents, abort);
            result = await runner.RunAsync(toRun.Workflow, claimed.Input, options, run.Stop.Token);
        }
        finally
        {
            running.Remove(claimed.Id);
        }

        await EndRunAsync(dispatched, claimed, run, result, abort, activity);
    }

    /// <summary>The run's end: nothing written (taken over), handed back, parked, or the job's finish.</summary>
    private async Task EndRunAsync(DispatchedJob dispatched, ClaimedJob claimed, JobRun run, WorkflowRunResult result, CancellationToken abort, Activity? activity)
    {
        // Usage of a call whose step never recorded (the run was cancelled inside it) is still a paid call.
        await run.FlushUsageAsync();
        if (run.TakenOver)
        {
            await run.EndWithoutFinishAsync();
            // A step row of this attempt was refused: a newer attempt (another worker, or this one after a stall) owns
            // the job and its stream entry now. Nothing of this run is written; the owner finishes the job.
            LogTakenOver(claimed.Id, claimed.Attempt);
            activity?.SetTag("llmworkflow.job.status", "taken_over");
            return;
        }

        var shuttingDown = result.Status == WorkflowRunStatus.Cancelled && abort.IsCancellationRequested;
        if (shuttingDown || (result.Status != WorkflowRunStatus.Completed && run.PersistenceFault is not null))
        {
            await unfinished.HandBackAsync(dispatched, claimed, run, shuttingDown ? "shutdown" : "database unavailable during the run", activity);
            return;
        }

        if (result is { Status: WorkflowRunStatus.Waiting, Wait: { } wait })
        {
            if (await unfinished.ParkAsync(claimed, run, wait, activity))
            {
                run.PublishOutcome();
            }

            return;
        }

        var outcome = ToOutcome(result);
        await run.FinishAsync(outcome);
        RecordFinished(activity, claimed, outcome, result);
    }

    private static void RecordFinished(Activity? activity, ClaimedJob claimed, JobOutcome outcome, WorkflowRunResult result)
    {
        var status = outcome.Status.ToWire();
        Telemetry.JobDuration.Record(result.DurationMs / 1000.0,
            new KeyValuePair<string, object?>("workflow", claimed.WorkflowName), new KeyValuePair<string, object?>("status", status));
        activity?.SetTag("llmworkflow.job.status", status);
        if (outcome.Status == JobStatus.Completed)
        {
            activity?.SetStatus(ActivityStatusCode.Ok);
            activity?.SetTag("gen_ai.usage.input_tokens", result.InputTokens);
            activity?.SetTag("gen_ai.usage.output_tokens", result.OutputTokens);
            activity?.SetTag(Telemetry.CostAttribute, result.CostUsd is { } cost ? (double)cost : null);
        }
        else if (result.Error is { } error && outcome.Status == JobStatus.Failed)
        {
            activity.RecordFailure(error.Type, ErrorMessage(result) ?? error.Message);
        }
    }

    private static JobOutcome ToOutcome(WorkflowRunResult result)
    {
        var status = result.Status switch
        {
            WorkflowRunStatus.Completed => JobStatus.Completed,
            WorkflowRunStatus.Cancelled => JobStatus.Cancelled,
            _ => JobStatus.Failed,
        };
        JsonNode? resultData = status == JobStatus.Completed
            ? new JsonObject { ["output"] = result.Output?.DeepClone(), ["cost_data"] = CostData(result) }
            : null;
        // A cancel is what someone asked for, not a failure: it gets no error taxonomy (the engine's error says USER_ERROR),
        // like a job cancelled while it waited and like its workflow.cancelled webhook.
        var error = status == JobStatus.Cancelled ? null : result.Error;
        return new JobOutcome(status, resultData, error, result.InputTokens, result.OutputTokens, result.CostUsd ?? 0m,
            ErrorMessage(result));
    }

    /// <summary>The job's <c>error_message</c>: the error text, prefixed with the failing step's name when there is one.</summary>
    private static string? ErrorMessage(WorkflowRunResult result)
    {
        if (result.Error is not { } error)
        {
            return null;
        }

        var step = error.StepId is null ? null : result.Steps.LastOrDefault(s => s.StepId == error.StepId);
        return step is null ? error.Message : $"Step \"{step.DisplayName}\" ({step.StepId}) failed: {error.Message}";
    }

    /// <summary>The documents' <c>cost_data</c>: totals, the last model's provider and id, and the per-model breakdown.</summary>
    public static JsonObject CostData(WorkflowRunResult result) => LlmWorkflow.Engine.Costs.CostData.From(result).ToJson();

    private static Activity? StartActivity(DispatchedJob dispatched)
    {
        ActivityContext.TryParse(dispatched.Dispatch.TraceParent, dispatched.Dispatch.TraceState, out var parent);
        var activity = Telemetry.ActivitySource.StartActivity("job.run", ActivityKind.Consumer, parent);
        activity?.SetTag("llmworkflow.job_id", dispatched.Dispatch.JobId.ToString());
        activity?.SetTag("messaging.destination.name", dispatched.StreamKey);
        return activity;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: attempt {Attempt} was taken over by a newer attempt; this run stopped without writing")]
    private partial void LogTakenOver(Guid jobId, int attempt);
}
