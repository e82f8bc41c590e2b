using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Llm.Budgets;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// A running job's remaining-cost forecast: what the <c>llm</c> steps that can still run after a given step are
/// expected to cost (docs/ADMISSION.md, "The job's remaining cost"). Built once per job run from the dry-run plan of
/// the definition (its input and context resolved) and what past runs learned; each step then asks it in memory.
/// <list type="bullet">
/// <item>A step with learned cost counts at what it cost past jobs that ran it (all its calls); inside a <c>for_each</c>
/// whose items the plan resolved, its learned cost per call times the planned iteration count.</item>
/// <item>A step without: the dry run's prompt tokens times the input price plus its expected output (p95 of past
/// answers, else max_tokens, else the default) times the output price, the dearest model of its fallback chain, times
/// the planned runs (1 when a loop's items are known only at run time).</item>
/// <item>After the step: the steps after it in its own block and in every block enclosing it. A <c>conditional</c>
/// counts its dearer branch (an upper bound: the forecast does not guess the branch), a <c>parallel</c> every branch,
/// a <c>for_each</c> its body for all its iterations. Branches running beside the step (its own <c>parallel</c>) are
/// not counted: they check their own steps.</item>
/// </list>
/// </summary>
public sealed class JobCostForecast(IReadOnlyDictionary<string, decimal> stepCosts)
{
    /// <summary>The output forecast of a step with no history and no max_tokens when no history source says otherwise.</summary>
    public const int FallbackOutputTokens = 1024;

    /// <summary>Each llm step's forecast for the whole job (every run of it), by step id.</summary>
    public IReadOnlyDictionary<string, decimal> StepCosts => stepCosts;

    /// <summary>Forecasts every llm step of the plan: learned cost where past runs have it, else the dry run's estimate.</summary>
    public static async Task<JobCostForecast> BuildAsync(
        string workflowName, IReadOnlyList<DryRunStep> planned, IPriceTable prices, IStepCostHistory? history, CancellationToken cancellationToken)
    {
        var llmSteps = planned.Where(s => s.Type == StepTypes.Llm).ToList();
        var learned = history is null ? null : await history.StepCostsAsync(
            workflowName, [.. llmSteps.SelectMany(s => s.Models.Select(model => (s.Id, model))).Distinct()], cancellationToken);
        var costs = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var step in llmSteps)
        {
            costs[step.Id] = learned?.GetValueOrDefault(step.Id) is { } known
                ? Learned(step, known)
                : await PlannedAsync(workflowName, step, prices, history, cancellationToken);
        }

        return new JobCostForecast(costs);
    }

    /// <summary>What the llm steps that can still run after <paramref name="stepId"/> are forecast to cost (0 when it is the last).</summary>
    public decimal RemainingAfter(WorkflowDefinition workflow, string stepId) =>
        RemainingAfter(workflow.Steps, stepId) ?? 0;

    private static decimal Learned(DryRunStep step, LearnedStepCost known) =>
        step.Runs > 1 && !step.RunsUnknown ? known.PerCallUsd * step.Runs : known.PerJobUsd;

    private static async Task<decimal> PlannedAsync(
        string workflowName, DryRunStep step, IPriceTable prices, IStepCostHistory? history, CancellationToken cancellationToken)
    {
        decimal dearest = 0;
        foreach (var id in step.Models)
        {
            if (!ModelId.TryParse(id, out var model))
            {
                continue;
            }

            var output = await OutputTokenForecast.ForecastAsync(history?.OutputHistory, workflowName, step.Id, model, step.ConfiguredMaxTokens,
                history?.DefaultOutputTokens ?? FallbackOutputTokens, null, cancellationToken);
            dearest = Math.Max(dearest, prices.Cost(id, step.EstimatedInputTokens ?? 0, output) ?? 0);
        }

        return dearest * step.Runs;
    }

    /// <summary>The rest of <paramref name="block"/> after the step, with the rest of the step's enclosing blocks; null when the step is not in it.</summary>
    private decimal? RemainingAfter(IReadOnlyList<StepDefinition> block, string stepId)
    {
        for (var i = 0; i < block.Count; i++)
        {
            var inside = block[i].Id == stepId ? 0 : RemainingInside(block[i], stepId);
            if (inside is { } rest)
            {
                return rest + Cost(block.Skip(i + 1));
            }
        }

        return null;
    }

    /// <summary>The rest of the nested block holding the step (its own branch or loop body only); null when it is not nested here.</summary>
    private decimal? RemainingInside(StepDefinition step, string stepId) => step.ControlFlow switch
    {
        ConditionalStepConfig conditional => RemainingAfter(conditional.Then, stepId) ?? RemainingAfter(conditional.Else, stepId),
        ParallelStepConfig parallel => parallel.Branches.Values.Select(branch => RemainingAfter(branch, stepId)).FirstOrDefault(rest => rest is not null),
        ForEachStepConfig forEach => RemainingAfter(forEach.Steps, stepId),
        _ => null,
    };

    private decimal Cost(IEnumerable<StepDefinition> steps) => steps.Sum(Cost);

    private decimal Cost(StepDefinition step) => step.ControlFlow switch
    {
        ConditionalStepConfig conditional => Math.Max(Cost(conditional.Then), Cost(conditional.Else)),
        ParallelStepConfig parallel => parallel.Branches.Values.Sum(Cost),
        // The body's steps are forecast for all the loop's runs already (planned count or learned per job).
        ForEachStepConfig forEach => Cost(forEach.Steps),
        _ => stepCosts.GetValueOrDefault(step.Id),
    };
}

/// <summary>
/// What a paid llm step must fit in a budget: its own forecast, plus the job's remaining forecast when the workflow says
/// <c>budget_check: remaining</c>. The remaining forecast is reported either way.
/// </summary>
/// <param name="RemainingUsd">The forecast of the llm steps that can still run after the step; null when it was not forecast (no budget).</param>
public readonly record struct StepForecast(decimal StepUsd, decimal? RemainingUsd, bool ChecksRemaining)
{
    /// <summary>The amount that must fit.</summary>
    public decimal RequiredUsd => StepUsd + (ChecksRemaining ? RemainingUsd ?? 0 : 0);

    public string Check => ChecksRemaining ? BudgetCheck.Remaining : BudgetCheck.Step;

    public StepForecast WithStep(decimal stepUsd) => this with { StepUsd = stepUsd };
}
