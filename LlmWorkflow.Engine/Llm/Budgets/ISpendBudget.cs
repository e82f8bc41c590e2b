using LlmWorkflow.Engine.Llm.Admission;

namespace LlmWorkflow.Engine.Llm.Budgets;

/// <summary>
/// One job's view of its tenant's and user's dollar budgets, shared by every worker: a step reserves its forecast
/// cost before a paid call and settles it to what the call cost after. A host without budgets passes none.
/// </summary>
public interface ISpendBudget
{
    /// <summary>The step's past answers, for the output-token forecast; null = max_tokens or the default.</summary>
    IOutputTokenHistory? OutputHistory { get; }

    /// <summary>The output forecast of a step with no history and no max_tokens.</summary>
    int DefaultOutputTokens { get; }

    /// <summary>How long a step waits in its worker for other reservations to settle.</summary>
    TimeSpan PendingWait { get; }

    /// <summary>Reserves <paramref name="estimateUsd"/> in every budget of the job's tenant and user, or in none.</summary>
    Task<SpendVerdict> ReserveAsync(string leaseId, decimal estimateUsd, CancellationToken cancellationToken);

    /// <summary>Replaces the reservation by what the call cost (0 releases it: no call was paid).</summary>
    Task SettleAsync(string leaseId, decimal costUsd);

    /// <summary>How many settlements this process has been told of so far (any worker's): read before a reservation.</summary>
    long SettlementsSeen { get; }

    /// <summary>
    /// Returns when a settlement after <paramref name="seen"/> is announced (at once if one was), or after
    /// <paramref name="max"/> (a lost notice costs no more than that).
    /// </summary>
    Task WaitForSettlementAsync(long seen, TimeSpan max, CancellationToken cancellationToken);
}

public enum SpendOutcome
{
    Reserved,

    /// <summary>Spend settled so far leaves room, but other steps' reservations do not: they settle soon.</summary>
    Pending,

    /// <summary>What was spent in the window plus this step's forecast exceeds a budget.</summary>
    Exceeded,
}

/// <summary>A reservation's answer; for <see cref="SpendOutcome.Exceeded"/> which budget, its figures and when it fits.</summary>
/// <param name="Scope">The budget: <c>tenant:acme:daily</c>, <c>tenant:acme:monthly</c> or <c>tenant:acme:user:u1:daily</c>.</param>
/// <param name="Until">When enough of the oldest spend leaves the window for the step to fit; null = it never fits (the step alone exceeds the budget).</param>
public sealed record SpendVerdict(SpendOutcome Outcome, string? Scope = null, decimal LimitUsd = 0, decimal SpentUsd = 0, DateTimeOffset? Until = null)
{
    public static readonly SpendVerdict Reserved = new(SpendOutcome.Reserved);
}
