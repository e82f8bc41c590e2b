using LlmWorkflow.Engine.Llm.Admission;

namespace LlmWorkflow.Engine.Llm.Budgets;

/// <summary>
/// What past runs of a workflow learned about its steps' cost, for a running job's remaining-cost forecast
/// (<see cref="Execution.JobCostForecast"/>). Read once per job run, not per step.
/// </summary>
public interface IStepCostHistory
{
    /// <summary>
    /// Learned cost by step id (steps without paid history are absent), from the step's recent calls with the models
    /// of its chain (<paramref name="stepModels"/>: step id and <c>provider/model</c> pairs).
    /// </summary>
    ValueTask<IReadOnlyDictionary<string, LearnedStepCost>> StepCostsAsync(
        string workflowName, IReadOnlyCollection<(string StepId, string Model)> stepModels, CancellationToken cancellationToken);

    /// <summary>The steps' past answers, for the output forecast of a step without learned cost; null = max_tokens or the default.</summary>
    IOutputTokenHistory? OutputHistory { get; }

    /// <summary>The output forecast of a step with no history and no max_tokens.</summary>
    int DefaultOutputTokens { get; }
}

/// <summary>A step's learned cost from past jobs that ran it.</summary>
/// <param name="PerJobUsd">What the step cost a job on average, every call of it (loop iterations, retries, fallbacks) included.</param>
/// <param name="PerCallUsd">What one call of it cost on average.</param>
/// <param name="Jobs">How many past jobs it was learned from.</param>
public sealed record LearnedStepCost(decimal PerJobUsd, decimal PerCallUsd, int Jobs);
