using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;

namespace LlmWorkflow.Engine.Execution;

/// <summary>Per-run settings for <see cref="WorkflowRunner.RunAsync"/>.</summary>
public sealed record WorkflowRunOptions
{
    /// <summary>Job id; keys checkpoints and names the run in progress events.</summary>
    public required string RunId { get; init; }

    /// <summary>Values exposed as <c>${context.x}</c> (user id, job metadata).</summary>
    public JsonObject? Context { get; init; }

    public IProgressSink? Progress { get; init; }

    public ICheckpointStore? Checkpoints { get; init; }

    /// <summary>Overrides the workflow's <c>max_cost_usd</c>.</summary>
    public decimal? MaxCostUsd { get; init; }

    /// <summary>The job's signals, for <c>wait_for_event</c> steps; without one they only time out.</summary>
    public ISignalInbox? Signals { get; init; }

    /// <summary>
    /// The prompt files of a pinned workflow version; null runs the runner's library (the prompts folder). Set, a job
    /// runs the prompts it was submitted with even if the files changed since.
    /// </summary>
    public Templates.PromptLibrary? Prompts { get; init; }

    /// <summary>
    /// The price rows of a pinned workflow version (in front of the current table); null bills at the runner's table.
    /// Set, a resume, a retry or a wake-up bills the job's calls at the prices it was submitted with.
    /// </summary>
    public Costs.IPriceTable? Prices { get; init; }

    /// <summary>
    /// The job's tenant and user dollar budgets, shared by every worker: each paid llm step reserves its forecast cost
    /// first and the workflow's <c>on_budget</c> says what happens when it does not fit. Null = no dollar budget.
    /// </summary>
    public Llm.Budgets.ISpendBudget? SpendBudget { get; init; }

    /// <summary>
    /// What past runs learned about the workflow's steps' cost, for the remaining-cost forecast a budget check reports
    /// (and, with <c>budget_check: remaining</c>, requires to fit); null = the dry run's estimates only.
    /// </summary>
    public Llm.Budgets.IStepCostHistory? CostHistory { get; init; }

    /// <summary>The wait an earlier run of this job parked on (its step then finds its time came), or null.</summary>
    public RunWait? ResumedWait { get; init; }

    /// <summary>The job's tenant: its llm calls count against its own token limits too (<c>Tenants:&lt;id&gt;:Limits</c>).</summary>
    public string? TenantId { get; init; }

    /// <summary>The job's user_id: its llm calls count against its tenant's per-user limits (<c>Tenants:&lt;id&gt;:PerUserLimits</c>).</summary>
    public string? UserId { get; init; }

    /// <summary>The job's service tier and deadline (docs/ADMISSION.md, "Service tiers"); null = standard.</summary>
    public Llm.ServiceTierRequest? ServiceTier { get; init; }

    /// <summary>The job's priority (0-10): its llm calls carry it (<see cref="Llm.LlmCallRequest.Priority"/>); null outside a job.</summary>
    public int? Priority { get; init; }
}

/// <summary>Everything a run produced: status, output, error, step records and usage totals (the documents' <c>cost_data</c>).</summary>
public sealed record WorkflowRunResult
{
    public required WorkflowRunStatus Status { get; init; }

    /// <summary>The resolved <c>output</c> template; null unless completed.</summary>
    public JsonNode? Output { get; init; }

    /// <summary>What the run waits for when <see cref="Status"/> is <see cref="WorkflowRunStatus.Waiting"/>.</summary>
    public RunWait? Wait { get; init; }

    public WorkflowError? Error { get; init; }

    /// <summary>Records in the order steps finished; kept also when the run failed (partial results).</summary>
    public required IReadOnlyList<StepRecord> Steps { get; init; }

    public int InputTokens { get; init; }

    public int OutputTokens { get; init; }

    public int TotalTokens => InputTokens + OutputTokens;

    /// <summary>Sum of the priced LLM calls in USD; null when no call was priced (none made, or all unpriced).</summary>
    public decimal? CostUsd { get; init; }

    /// <summary>At least one LLM call used a model without a price, so <see cref="CostUsd"/> is a lower bound.</summary>
    public bool Unpriced { get; init; }

    /// <summary>Provider of the last LLM call that answered.</summary>
    public string? Provider { get; init; }

    /// <summary><c>provider/model</c> of the last LLM call that answered.</summary>
    public string? Model { get; init; }

    /// <summary>The same usage per <c>provider/model</c>, in first-use order.</summary>
    public IReadOnlyList<ModelCost> Models { get; init; } = [];

    /// <summary>The priced calls at their list (standard) prices: above <see cref="CostUsd"/> by what cheaper tiers saved.</summary>
    public decimal? ListCostUsd { get; init; }

    /// <summary>The tier the job asked for when not standard (flex); null for standard jobs.</summary>
    public string? RequestedServiceTier { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset FinishedAt { get; init; }

    public double DurationMs => (FinishedAt - StartedAt).TotalMilliseconds;
}
