using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm.Budgets;
using LlmWorkflow.Storage.Admission;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Worker.RunLogs;
using LlmWorkflow.Worker.Webhooks;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// What the engine runs a claimed job with: its context, where its progress goes (the run, through the opt-in step
/// webhook events and the CSV run log when configured), its checkpoints, budgets and signal inbox.
/// </summary>
internal sealed class WorkflowRunOptionsFactory(
    WebhookOutbox webhooks,
    PostgresSignalInbox signals,
    CsvRunLogs csvRunLogs,
    TenantSpendBudgets spendBudgets,
    IStepCostHistory costHistory,
    TimeProvider time,
    ILogger<JobProcessor> logger)
{
    /// <param name="wantsStepEvents">Whether the job's webhook opted in to <c>workflow.step_completed</c>.</param>
    /// <remarks>Synchronous unless the job wants step events (their sink reads the job's webhook first): a plain job pays no state machine here.</remarks>
    public ValueTask<WorkflowRunOptions> ForAsync(ClaimedJob claimed, JobRun run, WorkflowToRun toRun, bool wantsStepEvents, CancellationToken abort) =>
        wantsStepEvents ? WithStepEventsAsync(claimed, run, toRun, abort) : ValueTask.FromResult(Build(claimed, run, toRun, run));

    private async ValueTask<WorkflowRunOptions> WithStepEventsAsync(ClaimedJob claimed, JobRun run, WorkflowToRun toRun, CancellationToken abort) =>
        Build(claimed, run, toRun, await WebhookStepEventSink.ForJobAsync(run, webhooks, claimed, time, logger, abort));

    private WorkflowRunOptions Build(ClaimedJob claimed, JobRun run, WorkflowToRun toRun, IProgressSink progress) => new()
    {
        RunId = claimed.Id.ToString(),
        Context = RunContext(claimed),
        Progress = csvRunLogs.Wrap(progress, claimed),
        Checkpoints = run,
        MaxCostUsd = claimed.BudgetUsd,
        SpendBudget = spendBudgets.For(claimed.TenantId, claimed.UserId),
        CostHistory = costHistory,
        TenantId = claimed.TenantId,
        UserId = claimed.UserId,
        ServiceTier = claimed.ServiceTier,
        Priority = claimed.Priority,
        ResumedWait = claimed.ResumedWait,
        Signals = signals,
        Prompts = toRun.Prompts,
        Prices = toRun.Prices,
    };

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
}
