using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Engine.Execution;

/// <summary>What all steps of one run share: identity, input, sinks, the records written so far and the usage totals.</summary>
internal sealed class RunState
{
    private readonly Lock _recordsLock = new();
    private readonly List<StepRecord> _records = [];

    public required string RunId { get; init; }

    public required WorkflowDefinition Workflow { get; init; }

    public required JsonNode? Input { get; init; }

    public required JsonObject? Context { get; init; }

    public required IProgressSink Progress { get; init; }

    public required ICheckpointStore? Checkpoints { get; init; }

    public required RunUsage Usage { get; init; }

    public required TimeProvider Time { get; init; }

    /// <summary>The job's signals (<see cref="WorkflowRunOptions.Signals"/>).</summary>
    public ISignalInbox? Signals { get; init; }

    /// <summary>The wait an earlier run parked on (<see cref="WorkflowRunOptions.ResumedWait"/>).</summary>
    public RunWait? ResumedWait { get; init; }

    /// <summary>The pinned version's prompt files (see <see cref="WorkflowRunOptions.Prompts"/>), or null.</summary>
    public Templates.PromptLibrary? Prompts { get; init; }

    /// <summary>The pinned version's prices (see <see cref="WorkflowRunOptions.Prices"/>), or null.</summary>
    public Costs.IPriceTable? Prices { get; init; }

    /// <summary>The job's tenant and user dollar budgets (see <see cref="WorkflowRunOptions.SpendBudget"/>), or null.</summary>
    public Llm.Budgets.ISpendBudget? SpendBudget { get; init; }

    /// <summary>What past runs learned about the steps' cost (see <see cref="WorkflowRunOptions.CostHistory"/>), or null.</summary>
    public Llm.Budgets.IStepCostHistory? CostHistory { get; init; }

    private Task<JobCostForecast>? _costForecast;

    /// <summary>The job's remaining-cost forecast, built by <paramref name="build"/> at the first paid step that asks and kept for the run.</summary>
    public Task<JobCostForecast> CostForecast(Func<Task<JobCostForecast>> build) => LazyInitializer.EnsureInitialized(ref _costForecast, build);

    /// <summary>The job's tenant (see <see cref="WorkflowRunOptions.TenantId"/>), or null.</summary>
    public string? TenantId { get; init; }

    /// <summary>The job's user (see <see cref="WorkflowRunOptions.UserId"/>), or null.</summary>
    public string? UserId { get; init; }

    /// <summary>The job's priority (see <see cref="WorkflowRunOptions.Priority"/>), or null.</summary>
    public int? Priority { get; init; }

    /// <summary>The job's service tier (see <see cref="WorkflowRunOptions.ServiceTier"/>), or null.</summary>
    public Llm.ServiceTierRequest? ServiceTier { get; init; }

    public int TotalTopLevelSteps => Workflow.Steps.Count;

    public DateTimeOffset Now => Time.GetUtcNow();

    public void AddRecord(StepRecord record)
    {
        lock (_recordsLock)
        {
            _records.Add(record);
        }
    }

    public IReadOnlyList<StepRecord> SnapshotRecords()
    {
        lock (_recordsLock)
        {
            return [.. _records];
        }
    }

    public int Percent(int finishedTopLevelSteps) =>
        TotalTopLevelSteps == 0 ? 100 : finishedTopLevelSteps * 100 / TotalTopLevelSteps;
}
