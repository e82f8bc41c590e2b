using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using LlmWorkflow.Engine;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Versions;
using LlmWorkflow.Pipeline.Webhooks;
using LlmWorkflow.Worker.Webhooks;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Runs one dispatched job in a worker: claim it in Postgres with a lease, keep the lease alive while the workflow
/// runs, record progress and the outcome. Entries for jobs that cannot be claimed (finished, cancelled, owned by a live
/// worker) are simply acknowledged.
/// </summary>
internal sealed partial class JobProcessor(
    JobLifecycleStore store,
    JobRunWriter writer,
    JobQueue queue,
    LiveEventPublisher events,
    WorkflowCatalog catalog,
    WorkflowVersions versions,
    WorkflowRunner runner,
    RunningJobs running,
    WebhookOutbox webhooks,
    HeldWrites held,
    DueJobWaker waker,
    PostgresSignalInbox signals,
    LlmWorkflow.Pipeline.Approvals.ApprovalLinks approvalLinks,
    LlmWorkflow.Worker.RunLogs.CsvRunLogs csvRunLogs,
    LlmWorkflow.Pipeline.Admission.TenantSpendBudgets spendBudgets,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    ILogger<JobProcessor> logger)
{
    private readonly WorkerOptions _options = options.Value;

    /// <summary>Claims the jobs of a batch of entries in one statement; entries whose job is absent need no run.</summary>
    public Task<IReadOnlyDictionary<Guid, ClaimedJob>> ClaimAsync(IReadOnlyList<DispatchedJob> batch, CancellationToken cancellationToken) =>
        store.ClaimAsync(batch.Select(d => d.Dispatch.JobId).Where(id => id != Guid.Empty).Distinct().ToArray(),
            _options.Id, _options.LeaseDuration, cancellationToken);

    /// <summary>
    /// Whether the job's workflow waits on the network (an <c>llm</c> or <c>external_api</c> step anywhere in it), so
    /// that its start should get its request out before the next job starts (see <see cref="JobConsumerService"/>).
    /// </summary>
    public bool CallsOut(ClaimedJob? claimed) =>
        claimed is not null && catalog.TryGet(claimed.WorkflowName, out var workflow) && NetworkSteps.CallsOut(workflow);

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
        activity?.SetTag("llmworkflow.attempt", claimed.Attempt);
        RecordAttemptTrace(claimed, activity);
        if (await WorkflowToRunAsync(dispatched, claimed, activity) is not var (workflow, prompts, prices))
        {
            return;
        }

        // Stopped by: worker shutdown (abort), a cancel request or deletion (RunningJobs), or a lost lease (RunningJobs renews the leases).
        using var run = CancellationTokenSource.CreateLinkedTokenSource(abort);
        var faults = new RunPersistenceFaults();
        var taken = false;
        var wantsStepEvents = claimed.HasWebhook && claimed.WebhookEvents.Contains(WebhookEventTypes.StepCompleted);
        var checkpoints = new PostgresCheckpointStore(store, writer, claimed, faults, held, () =>
        {
            Volatile.Write(ref taken, true);
            run.Cancel();
        }, deferStepRows: !wantsStepEvents);
        var sink = new JobProgressSink(store, writer, events, claimed, checkpoints, logger, run, approvalLinks);

        // From here RunningJobs keeps the job's lease (one statement for all running jobs).
        running.Add(claimed.Id, run);

        WorkflowRunResult result;
        try
        {
            result = await runner.RunAsync(workflow, claimed.Input, new WorkflowRunOptions
            {
                RunId = claimed.Id.ToString(),
                Context = RunContext(claimed),
                Progress = csvRunLogs.Wrap(wantsStepEvents
                    ? await WebhookStepEventSink.ForJobAsync(sink, webhooks, claimed, time, logger, abort)
                    : sink, claimed),
                Checkpoints = checkpoints,
                MaxCostUsd = claimed.BudgetUsd,
                SpendBudget = spendBudgets.For(claimed.TenantId, claimed.UserId),
                ResumedWait = claimed.ResumedWait,
                Signals = signals,
                Prompts = prompts,
                Prices = prices,
            }, run.Token);
        }
        finally
        {
            running.Remove(claimed.Id);
        }

        await FlushUsageAsync(checkpoints);
        if (Volatile.Read(ref taken))
        {
            await checkpoints.EndWithoutFinishAsync();
            // A step row of this attempt was refused: a newer attempt (another worker, or this one after a stall) owns
            // the job and its stream entry now. Nothing of this run is written; the owner finishes the job.
            LogTakenOver(claimed.Id, claimed.Attempt);
            activity?.SetTag("llmworkflow.job.status", "taken_over");
            return;
        }

        var shuttingDown = result.Status == WorkflowRunStatus.Cancelled && abort.IsCancellationRequested;
        if (shuttingDown || (result.Status != WorkflowRunStatus.Completed && faults.First is not null))
        {
            await HandBackAsync(dispatched, claimed, checkpoints, shuttingDown ? "shutdown" : "database unavailable during the run", activity);
            return;
        }

        if (result is { Status: WorkflowRunStatus.Waiting, Wait: { } wait })
        {
            if (await ParkAsync(claimed, wait, await checkpoints.TakeDeferredAsync(), activity))
            {
                sink.PublishOutcome();
            }

            return;
        }

        var outcome = ToOutcome(result);
        // The finish writes the step rows still deferred (transforms, control flow, the last step) first, in its own
        // transaction; when the last step called out, that is a paid answer, held like a checkpoint through an outage.
        var holdsPaidAnswer = checkpoints.HoldsLastPaidStep;
        if (await FinishAsync(claimed, outcome, await checkpoints.TakeDeferredAsync(), holdsPaidAnswer))
        {
            sink.PublishOutcome();
        }

        RecordFinished(activity, claimed, outcome, result);
    }

    /// <summary>
    /// The job's workflow and the prompt files and prices it runs with (null: the prompts folder, today's prices), or null when the job must not
    /// run: started too often (dead-lettered), or its workflow is neither in this worker's catalog nor stored as its
    /// pinned version; either way it is failed here. A pinned job runs its version even if the files changed since it
    /// was submitted; a job from before pinning (no hash) runs the catalog's current definition.
    /// </summary>
    private async Task<(WorkflowDefinition Workflow, Engine.Templates.PromptLibrary? Prompts, Engine.Costs.IPriceTable? Prices)?> WorkflowToRunAsync(
        DispatchedJob dispatched, ClaimedJob claimed, Activity? activity)
    {
        if (claimed.Attempt > _options.MaxAttempts)
        {
            var reason = $"The job was started {claimed.Attempt - 1} times and never finished (its workers stopped each time); it was dead-lettered.";
            var error = WorkflowException.System("too_many_attempts", reason).Error;
            await FinishAsync(claimed, new JobOutcome(JobStatus.Failed, null, error, 0, 0, 0m), []);
            await queue.DeadLetterAsync(dispatched, reason);
            activity.RecordFailure(error.Type, reason);
            return null;
        }

        if (claimed.DefinitionHash is { } hash)
        {
            if (await versions.FindAsync(claimed.WorkflowName, hash, CancellationToken.None) is { } version)
            {
                activity?.SetTag("llmworkflow.definition_hash", version.ShortHash);
                return (version.Definition, version.PromptLibrary(versions.PromptsRoot), versions.PricesOf(version));
            }
        }
        else if (catalog.TryGet(claimed.WorkflowName, out var workflow))
        {
            return (workflow, null, null);
        }

        var missing = claimed.DefinitionHash is null
            ? $"Workflow '{claimed.WorkflowName}' is not in this worker's catalog."
            : $"Workflow '{claimed.WorkflowName}' version {claimed.DefinitionHash[..12]} is neither in this worker's catalog nor stored.";
        var unknown = WorkflowException.Config("unknown_workflow", missing).Error;
        await FinishAsync(claimed, new JobOutcome(JobStatus.Failed, null, unknown, 0, 0, 0m), []);
        activity.RecordFailure(unknown.Type, unknown.Message);
        return null;
    }

    private static async Task FlushUsageAsync(PostgresCheckpointStore checkpoints)
    {
        try
        {
            // Usage of a call whose step never recorded (the run was cancelled inside it) is still a paid call.
            await checkpoints.FlushUsageAsync();
        }
        catch (TimeoutException)
        {
            // Held past Worker:HoldWritesFor (logged, and recorded as a persistence fault): the job is handed back by the caller.
        }
    }

    /// <summary>
    /// Shutting down, or Postgres dropped out under the run (not the job's fault): hand the job back so a worker
    /// resumes it from its checkpoints. If Postgres is still down this throws and the job keeps its lease until it
    /// lapses; the reconciler then re-dispatches it.
    /// </summary>
    private async Task HandBackAsync(DispatchedJob dispatched, ClaimedJob claimed, PostgresCheckpointStore checkpoints, string why, Activity? activity)
    {
        await checkpoints.EndWithoutFinishAsync();
        await writer.ReleaseAsync(claimed.Id, _options.Id, CancellationToken.None, claimed.Attempt);
        await queue.EnqueueAsync(dispatched.Dispatch, CancellationToken.None);
        LogReleased(claimed.Id, why);
        activity?.SetTag("llmworkflow.job.status", "released");
    }

    /// <summary>
    /// A step parked the run: the job waits, holding no slot, until <paramref name="wait"/>'s time, when a waker queues it
    /// and any worker resumes it from its checkpoints. This worker's waker and the others' (over Redis) hear of the time.
    /// </summary>
    /// <returns>Whether the job is parked (false: cancelled instead, or resumed at once by a signal that came first).</returns>
    private async Task<bool> ParkAsync(ClaimedJob claimed, RunWait wait, IReadOnlyList<WriteStatement> stepRows, Activity? activity)
    {
        if (!await writer.ParkAsync(claimed.Id, _options.Id, claimed.Attempt, wait, stepRows))
        {
            // Its cancel was requested while it ran (or another attempt owns it, and then this finish matches nothing).
            await FinishAsync(claimed, new JobOutcome(JobStatus.Cancelled, null, null, 0, 0, 0m), []);
            return false;
        }

        activity?.SetTag("llmworkflow.job.status", JobStatus.Waiting.ToWire());
        LogParked(claimed.Id, wait.StepId, wait.Until);
        if (wait.Event is { } eventName && await store.ResumeOnSignalAsync(claimed.Id, eventName, CancellationToken.None) is { } resumed)
        {
            // The signal came while the run was on its way to the wait (its request found the job still running).
            await queue.EnqueueAsync(resumed, CancellationToken.None);
            return false;
        }

        await RecordWaitingEventAsync(claimed, wait);
        waker.Announce(wait.Until);
        try
        {
            await queue.AnnounceDueAsync(wait.Until);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            // This worker's waker knows; the others read PostgreSQL within a minute.
        }

        return true;
    }

    /// <summary>
    /// The opt-in <c>workflow.waiting</c> webhook event of a parked job: what it waits for and, for an approval, its
    /// decision links. Best effort like step events: the job's wait does not depend on it.
    /// </summary>
    private async Task RecordWaitingEventAsync(ClaimedJob claimed, RunWait wait)
    {
        if (!claimed.HasWebhook || !claimed.WebhookEvents.Contains(WebhookEventTypes.Waiting))
        {
            return;
        }

        try
        {
            if (await webhooks.FindOptInUrlAsync(claimed.Id, WebhookEventTypes.Waiting, CancellationToken.None) is { } url)
            {
                var waitingFor = LlmWorkflow.Pipeline.Approvals.WaitDescriptions.Describe(claimed.Id, wait, approvalLinks);
                await webhooks.EnqueueAsync(claimed.Id, url, WebhookPayloads.Waiting(claimed, waitingFor, time.GetUtcNow()), CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or System.Security.Cryptography.CryptographicException)
        {
            LogWaitingEventFailed(ex, claimed.Id);
        }
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

    /// <returns>Whether this attempt finished the job (false: another attempt owns it, or it was already finished).</returns>
    private async Task<bool> FinishAsync(ClaimedJob job, JobOutcome outcome, IReadOnlyList<WriteStatement> stepRows, bool holdsPaidAnswer = false)
    {
        Task<bool> Finish() => writer.FinishAsync(job.Id, _options.Id, outcome, CancellationToken.None, job.Attempt, stepRows);
        var finished = holdsPaidAnswer
            ? await held.WriteAsync(Finish, HeldWrites.EstimateBytes(stepRows), $"the last step and the finish of job {job.Id}")
            : await Finish();
        if (finished)
        {
            Telemetry.JobsFinished.Add(1,
                new KeyValuePair<string, object?>("workflow", job.WorkflowName),
                new KeyValuePair<string, object?>("status", outcome.Status.ToWire()));
            // The terminal webhook event was recorded by the same statement (JobLifecycleStore.FinishAsync).
            LogFinished(job.Id, job.WorkflowName, outcome.Status.ToWire());
        }

        return finished;
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

    private static JsonObject RunContext(ClaimedJob job) => new()
    {
        ["job_id"] = job.Id.ToString(),
        ["user_id"] = job.UserId,
        ["username"] = job.Username,
        ["action"] = job.Action,
        ["priority"] = job.Priority,
        ["attempt"] = job.Attempt,
        ["debug_mode"] = job.DebugMode,
    };

    /// <summary>
    /// Records this attempt's trace on the job without waiting for it: it rides the write batcher with other jobs'
    /// writes, and a lost record costs a link on the job page, never the run.
    /// </summary>
    private void RecordAttemptTrace(ClaimedJob claimed, Activity? activity)
    {
        if (activity is null)
        {
            return;
        }

        _ = writer.RecordAttemptTraceAsync(claimed.Id, claimed.Attempt, activity.TraceId.ToHexString(), _options.Id)
            .ContinueWith(t => LogTraceNotRecorded(t.Exception!, claimed.Id), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    private static Activity? StartActivity(DispatchedJob dispatched)
    {
        ActivityContext.TryParse(dispatched.Dispatch.TraceParent, dispatched.Dispatch.TraceState, out var parent);
        var activity = Telemetry.ActivitySource.StartActivity("job.run", ActivityKind.Consumer, parent);
        activity?.SetTag("llmworkflow.job_id", dispatched.Dispatch.JobId.ToString());
        activity?.SetTag("messaging.system", "redis");
        activity?.SetTag("messaging.destination.name", dispatched.StreamKey);
        return activity;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the trace of this attempt could not be recorded")]
    private partial void LogTraceNotRecorded(Exception ex, Guid jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ({Workflow}) finished: {Status}")]
    private partial void LogFinished(Guid jobId, string workflow, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} waits at step {StepId} until {Until:O}, holding no worker slot")]
    private partial void LogParked(Guid jobId, string stepId, DateTimeOffset until);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the workflow.waiting webhook event of job {JobId}")]
    private partial void LogWaitingEventFailed(Exception ex, Guid jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} released for another worker ({Reason})")]
    private partial void LogReleased(Guid jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: attempt {Attempt} was taken over by a newer attempt; this run stopped without writing")]
    private partial void LogTakenOver(Guid jobId, int attempt);
}
