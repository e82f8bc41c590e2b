using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using LlmWorkflow.Engine;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Versions;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Worker.Webhooks;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Runs one dispatched job in a worker: claim it in Postgres with a lease, keep the lease alive while the workflow
/// runs, record progress and the outcome. Entries for jobs that cannot be claimed (finished, cancelled, owned by a live
/// worker) are simply acknowledged.
/// </summary>
internal sealed partial class JobProcessor(
    JobLifecycleStore store,
    JobRunStore runStore,
    JobQueue queue,
    LiveEventPublisher events,
    WorkflowCatalog catalog,
    WorkflowVersions versions,
    WorkflowRunner runner,
    RunningJobs running,
    WebhookOutbox webhooks,
    DueJobWaker waker,
    PostgresSignalInbox signals,
    LlmWorkflow.Storage.Approvals.ApprovalLinks approvalLinks,
    LlmWorkflow.Worker.RunLogs.CsvRunLogs csvRunLogs,
    LlmWorkflow.Storage.Admission.TenantSpendBudgets spendBudgets,
    LlmWorkflow.Engine.Llm.Budgets.IStepCostHistory costHistory,
    TenantConcurrency tenantCaps,
    TenantSlotShares slotShares,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    ILogger<JobProcessor> logger)
{
    private readonly WorkerOptions _options = options.Value;

    /// <summary>
    /// Claims the jobs of a batch of entries in one statement; entries whose job is absent need no run. With tenant
    /// caps set, a workflow declaring <c>concurrency</c> or the tenants' slot shares on, jobs past their tenant's cap,
    /// their key's limit or their tenant's share are parked as slot waits instead (absent too).
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, ClaimedJob>> ClaimAsync(IReadOnlyList<DispatchedJob> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Dispatch.JobId).Where(id => id != Guid.Empty).Distinct().ToArray();
        var traceIds = RunTraceIds(batch);
        if (!tenantCaps.Any && !slotShares.Enabled && !catalog.All.Any(w => w.Concurrency is not null))
        {
            return await store.ClaimAsync(ids, _options.Id, _options.LeaseDuration, cancellationToken, traceIds);
        }

        var (claimed, held) = await store.ClaimWithinLimitsAsync(ids, _options.Id, _options.LeaseDuration, tenantCaps, slotShares.Current,
            time.GetUtcNow() + _options.ReconcileInterval, cancellationToken, traceIds);
        if (held > 0)
        {
            TenantConcurrency.SlotWaits.Add(held, new KeyValuePair<string, object?>("at", "claim"));
        }

        return claimed;
    }

    /// <summary>
    /// The job left <c>processing</c> (finished, parked, handed back): when its tenant is capped or it has a
    /// concurrency key, the next job they held is queued at once, and with the slot shares on the next job a share held
    /// of the tenant furthest below its share. A failure here is the reconciler's backstop's to repair, within its interval.
    /// </summary>
    public async Task ReleaseSlotAsync(ClaimedJob claimed)
    {
        var tenantCap = tenantCaps.CapOf(claimed.TenantId);
        if (tenantCap is null && claimed.ConcurrencyKey is null && !slotShares.Enabled)
        {
            return;
        }

        try
        {
            var resumed = await store.ResumeForSlotAsync(claimed.TenantId, tenantCap, claimed.ConcurrencyKey, claimed.ConcurrencyLimit, slotShares.Current, CancellationToken.None);
            foreach (var job in resumed)
            {
                await queue.EnqueueAsync(job.Dispatch, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or StackExchange.Redis.RedisException or TimeoutException)
        {
            LogSlotReleaseFailed(ex, claimed.Id);
        }
    }

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
        var wantsStepEvents = claimed.HasWebhook && claimed.WebhookEvents.Contains(WebhookEventTypes.StepCompleted);
        // The run owns every write of this job from here: step rows, usage, progress, live events and its end.
        using var run = new JobRun(runStore, events, claimed, _options.Id, abort, deferStepRows: !wantsStepEvents, logger: logger, approvalLinks: approvalLinks);
        if (activity is not null && activity.TraceId.ToHexString() != RunTraceId(dispatched))
        {
            run.RecordAttemptTrace(activity); // the claim recorded the dispatch's trace, not this one
        }

        if (await WorkflowToRunAsync(dispatched, claimed, run, activity) is not var (workflow, prompts, prices))
        {
            return;
        }

        // From here RunningJobs keeps the job's lease (one statement for all running jobs) and stops the run on a cancel.
        running.Add(claimed.Id, run.Stop);

        WorkflowRunResult result;
        try
        {
            result = await runner.RunAsync(workflow, claimed.Input, new WorkflowRunOptions
            {
                RunId = claimed.Id.ToString(),
                Context = RunContext(claimed),
                Progress = csvRunLogs.Wrap(wantsStepEvents
                    ? await WebhookStepEventSink.ForJobAsync(run, webhooks, claimed, time, logger, abort)
                    : run, claimed),
                Checkpoints = run,
                MaxCostUsd = claimed.BudgetUsd,
                SpendBudget = spendBudgets.For(claimed.TenantId, claimed.UserId),
                CostHistory = costHistory,
                TenantId = claimed.TenantId,
                UserId = claimed.UserId,
                ServiceTier = claimed.ServiceTier,
                ResumedWait = claimed.ResumedWait,
                Signals = signals,
                Prompts = prompts,
                Prices = prices,
            }, run.Stop.Token);
        }
        finally
        {
            running.Remove(claimed.Id);
        }

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
            await HandBackAsync(dispatched, claimed, run, shuttingDown ? "shutdown" : "database unavailable during the run", activity);
            return;
        }

        if (result is { Status: WorkflowRunStatus.Waiting, Wait: { } wait })
        {
            if (await ParkAsync(claimed, run, wait, activity))
            {
                run.PublishOutcome();
            }

            return;
        }

        var outcome = ToOutcome(result);
        await run.FinishAsync(outcome);
        RecordFinished(activity, claimed, outcome, result);
    }

    /// <summary>
    /// The job's workflow and the prompt files and prices it runs with (null: the prompts folder, today's prices), or null when the job must not
    /// run: started too often (dead-lettered), or its workflow is neither in this worker's catalog nor stored as its
    /// pinned version; either way it is failed here. A pinned job runs its version even if the files changed since it
    /// was submitted; a job from before pinning (no hash) runs the catalog's current definition.
    /// </summary>
    private async Task<(WorkflowDefinition Workflow, Engine.Templates.PromptLibrary? Prompts, Engine.Costs.IPriceTable? Prices)?> WorkflowToRunAsync(
        DispatchedJob dispatched, ClaimedJob claimed, JobRun run, Activity? activity)
    {
        if (claimed.Attempt > _options.MaxAttempts)
        {
            var reason = $"The job was started {claimed.Attempt - 1} times and never finished (its workers stopped each time); it was dead-lettered.";
            var error = WorkflowException.System("too_many_attempts", reason).Error;
            await run.FinishAsync(new JobOutcome(JobStatus.Failed, null, error, 0, 0, 0m));
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
        await run.FinishAsync(new JobOutcome(JobStatus.Failed, null, unknown, 0, 0, 0m));
        activity.RecordFailure(unknown.Type, unknown.Message);
        return null;
    }

    /// <summary>
    /// Shutting down, or Postgres dropped out under the run (not the job's fault): hand the job back so a worker
    /// resumes it from its checkpoints. If Postgres is still down this throws and the job keeps its lease until it
    /// lapses; the reconciler then re-dispatches it.
    /// </summary>
    private async Task HandBackAsync(DispatchedJob dispatched, ClaimedJob claimed, JobRun run, string why, Activity? activity)
    {
        await run.HandBackAsync();
        await queue.EnqueueAsync(dispatched.Dispatch, CancellationToken.None);
        LogReleased(claimed.Id, why);
        activity?.SetTag("llmworkflow.job.status", "released");
    }

    /// <summary>
    /// A step parked the run: the job waits, holding no slot, until <paramref name="wait"/>'s time, when a waker queues it
    /// and any worker resumes it from its checkpoints. This worker's waker and the others' (over Redis) hear of the time.
    /// </summary>
    /// <returns>Whether the job is parked (false: cancelled instead, or resumed at once by a signal that came first).</returns>
    private async Task<bool> ParkAsync(ClaimedJob claimed, JobRun run, RunWait wait, Activity? activity)
    {
        if (!await run.ParkAsync(wait))
        {
            return false; // finished as cancelled instead: its cancel was requested while it ran
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
                var waitingFor = LlmWorkflow.Storage.Approvals.WaitDescriptions.Describe(claimed.Id, wait, approvalLinks);
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
    /// The trace each entry's run will carry, known before the claim: its dispatch's (the run's span is its child, see
    /// <see cref="StartActivity"/>). The claim records it as the attempt's trace.
    /// </summary>
    private static Dictionary<Guid, string> RunTraceIds(IReadOnlyList<DispatchedJob> batch)
    {
        var traces = new Dictionary<Guid, string>(batch.Count);
        foreach (var dispatched in batch)
        {
            if (RunTraceId(dispatched) is { } trace)
            {
                traces.TryAdd(dispatched.Dispatch.JobId, trace);
            }
        }

        return traces;
    }

    private static string? RunTraceId(DispatchedJob dispatched) =>
        ActivityContext.TryParse(dispatched.Dispatch.TraceParent, dispatched.Dispatch.TraceState, out var parent) ? parent.TraceId.ToHexString() : null;

    private static Activity? StartActivity(DispatchedJob dispatched)
    {
        ActivityContext.TryParse(dispatched.Dispatch.TraceParent, dispatched.Dispatch.TraceState, out var parent);
        var activity = Telemetry.ActivitySource.StartActivity("job.run", ActivityKind.Consumer, parent);
        activity?.SetTag("llmworkflow.job_id", dispatched.Dispatch.JobId.ToString());
        activity?.SetTag("messaging.system", "redis");
        activity?.SetTag("messaging.destination.name", dispatched.StreamKey);
        return activity;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} waits at step {StepId} until {Until:O}, holding no worker slot")]
    private partial void LogParked(Guid jobId, string stepId, DateTimeOffset until);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the workflow.waiting webhook event of job {JobId}")]
    private partial void LogWaitingEventFailed(Exception ex, Guid jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} released for another worker ({Reason})")]
    private partial void LogReleased(Guid jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} freed a slot but the next job waiting for it could not be queued; the reconciler queues it within its interval")]
    private partial void LogSlotReleaseFailed(Exception ex, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: attempt {Attempt} was taken over by a newer attempt; this run stopped without writing")]
    private partial void LogTakenOver(Guid jobId, int attempt);
}
