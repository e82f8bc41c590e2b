using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Llm.Budgets;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Steps;

/// <summary>A step's reservation in its tenant's and user's dollar budgets, and the models it may call under it.</summary>
/// <param name="DowngradedFrom">The step's own first model when <c>on_budget: downgrade</c> replaced it; else null.</param>
internal sealed record SpendReservation(ISpendBudget Budget, string LeaseId, IReadOnlyList<string> Models, string? DowngradedFrom, decimal EstimateUsd)
{
    /// <summary>Replaces the reservation by what the step's calls cost (0 when none was paid).</summary>
    public Task SettleAsync(decimal costUsd) => Budget.SettleAsync(LeaseId, costUsd);
}

/// <summary>
/// The dollar-budget check before a paid llm call: forecasts the call (prompt tokens by the model's tokenizer times
/// the input price, plus the step's expected output — p95 of past answers, else max_tokens — times the output price;
/// the dearest model of a fallback chain) and reserves it. When it does not fit, the workflow's <c>on_budget</c>
/// decides: fail the job, run on the cheaper <c>downgrade_model</c>, or park the job until the window has room.
/// </summary>
internal static class StepSpend
{
    /// <summary>
    /// The longest a step waits for a settlement notice while only other steps' reservations are in its way before it
    /// asks again (a notice lost with a Redis connection costs no more).
    /// </summary>
    private static readonly TimeSpan SettlementWaitCap = TimeSpan.FromSeconds(1);

    /// <summary>The reservation, or null when the job has no dollar budget or no model of the chain is priced.</summary>
    public static async Task<SpendReservation?> ReserveAsync(
        StepContext context, IReadOnlyList<string> models, IReadOnlyList<ChatMessage> messages, int? maxTokens, IPriceTable? prices, decimal? remainingUsd,
        CancellationToken cancellationToken)
    {
        if (context.Run.SpendBudget is not { } budget || (context.Run.Prices ?? prices) is not { } table)
        {
            return null;
        }

        var leaseId = Guid.CreateVersion7().ToString("N");
        string? downgradedFrom = null;
        var since = context.Run.Now;
        var checksRemaining = BudgetCheck.ChecksRemaining(context.Run.Workflow);
        while (true)
        {
            if (await ForecastAsync(budget, table, context, models, messages, maxTokens, cancellationToken) is not { } stepEstimate)
            {
                return null; // an unpriced call is billed at 0 in the ledger: nothing to hold back
            }

            // budget_check: remaining reserves the rest of the job's forecast too, so it must all fit (held until the step settles).
            var estimate = new StepForecast(stepEstimate, remainingUsd, checksRemaining);
            var seen = budget.SettlementsSeen;
            var verdict = await budget.ReserveAsync(leaseId, estimate.RequiredUsd, cancellationToken);
            if (verdict.Outcome == SpendOutcome.Reserved)
            {
                return new SpendReservation(budget, leaseId, models, downgradedFrom, estimate.RequiredUsd);
            }

            if (verdict.Outcome == SpendOutcome.Pending)
            {
                // Only reservations of calls in flight are in the way: they settle (usually lower) within a call's time,
                // and each settlement is announced, so the step asks again as soon as one frees room.
                if (context.Run.Now - since < budget.PendingWait)
                {
                    await budget.WaitForSettlementAsync(seen, SettlementWaitCap, cancellationToken);
                    continue;
                }

                throw Park(context, verdict, estimate, context.Run.Now + TimeSpan.FromSeconds(1));
            }

            var onBudget = OnBudget.Of(context.Run.Workflow);
            if (onBudget == OnBudget.Downgrade && downgradedFrom is null && context.Run.Workflow.DowngradeModel is { } cheaper)
            {
                downgradedFrom = models[0];
                models = [cheaper];
                continue;
            }

            if (onBudget == OnBudget.Wait && verdict.Until is { } until)
            {
                throw Park(context, verdict, estimate, until);
            }

            if (onBudget == OnBudget.WaitForApproval)
            {
                // Approved: the call runs over the budget and its cost is still counted (settled without a reservation).
                await ApprovedOverBudgetAsync(context, verdict, estimate, cancellationToken);
                return new SpendReservation(budget, leaseId, models, downgradedFrom, estimate.RequiredUsd);
            }

            throw BudgetGuard.TenantExceeded(context.Step.Id, verdict, estimate, onBudget);
        }
    }

    /// <summary>The dearest priced model's forecast; null when none of the chain is priced.</summary>
    private static async Task<decimal?> ForecastAsync(
        ISpendBudget budget, IPriceTable table, StepContext context, IReadOnlyList<string> models, IReadOnlyList<ChatMessage> messages, int? maxTokens,
        CancellationToken cancellationToken)
    {
        decimal? dearest = null;
        foreach (var id in models)
        {
            if (!ModelId.TryParse(id, out var model))
            {
                continue;
            }

            var output = await OutputTokenForecast.ForecastAsync(budget.OutputHistory, context.Run.Workflow.Name, context.Step.Id, model, maxTokens,
                budget.DefaultOutputTokens, null, cancellationToken);
            if (table.Cost(id, PromptTokenCounter.Count(model, messages), output) is { } cost && (dearest is null || cost > dearest))
            {
                dearest = cost;
            }
        }

        return dearest;
    }

    /// <summary>How long a person has to decide on a step over budget (<c>on_budget: wait_for_approval</c>).</summary>
    public static readonly TimeSpan ApprovalTimeout = TimeSpan.FromDays(7);

    /// <summary>The signal that decides on the step over budget: <c>budget.&lt;step id&gt;</c>.</summary>
    public static string ApprovalEvent(string stepId) => $"budget.{stepId}";

    /// <summary>
    /// <c>on_budget: wait_for_approval</c>: returns when a person approved running the step over budget (its decision in
    /// the job's inbox); parks the job as an approval wait, with decision links showing the forecast, until one does;
    /// fails the step as over budget when the decision is a rejection or none came in time.
    /// </summary>
    private static async Task ApprovedOverBudgetAsync(StepContext context, SpendVerdict verdict, StepForecast estimate, CancellationToken cancellationToken)
    {
        var eventName = ApprovalEvent(context.Step.Id);
        if (context.Run.Signals is { } inbox && await inbox.TakeAsync(context.Run.RunId, eventName, context.StepKey, cancellationToken) is { } signal)
        {
            var decision = ApprovalStepHandler.Decision(signal.Payload, context.Run.Now);
            // The decision stays in the job's inbox, taken by this step (GET /api/v1/jobs/{id}/signals).
            if ((bool?)decision["approved"] == true)
            {
                return;
            }

            throw BudgetGuard.TenantExceeded(context.Step.Id, verdict, estimate, OnBudget.WaitForApproval);
        }

        var until = context.Run.ResumedWait?.Of(context.StepKey) is { Kind: ApprovalStepHandler.Kind } resumed
            ? resumed.Until
            : context.Run.Now + ApprovalTimeout;
        if (context.Run.Now >= until)
        {
            throw BudgetGuard.TenantExceeded(context.Step.Id, verdict, estimate, OnBudget.WaitForApproval);
        }

        var left = Math.Max(0, verdict.LimitUsd - verdict.SpentUsd);
        throw new RunParkedException(new RunWait(context.Step.Id, context.StepKey, ApprovalStepHandler.Kind, until, eventName, new JsonObject
        {
            ["prompt"] = $"Step \"{context.Step.Id}\" is forecast to cost ${estimate.StepUsd:0.######}{RestOfJob(estimate)}, and the budget {verdict.Scope} " +
                         $"has ${left:0.######} of ${verdict.LimitUsd:0.######} left. Run it anyway? Its cost is counted in the budget either way.",
            ["show"] = BudgetGuard.WithForecast(new JsonObject
            {
                ["budget"] = verdict.Scope,
                ["limit_usd"] = verdict.LimitUsd,
                ["spent_usd"] = verdict.SpentUsd,
                ["remaining_usd"] = left,
                ["estimated_step_cost_usd"] = estimate.StepUsd,
                ["fits_at"] = verdict.Until?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            }, estimate),
            ["nonce"] = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant(),
        }));
    }

    /// <summary>Not a failure: the job parks (no worker slot) and the step asks again at <paramref name="until"/>.</summary>
    private static RunParkedException Park(StepContext context, SpendVerdict verdict, StepForecast estimate, DateTimeOffset until) =>
        new(new RunWait(context.Step.Id, context.StepKey, LlmStepHandler.BudgetWaitKind, until, Budget: BudgetGuard.WithForecast(new JsonObject
        {
            ["scope"] = verdict.Scope,
            ["reason"] = verdict.Outcome == SpendOutcome.Pending ? "usd_reserved" : "usd",
            ["limit_usd"] = verdict.LimitUsd,
            ["spent_usd"] = verdict.SpentUsd,
            ["estimated_step_cost_usd"] = estimate.StepUsd,
        }, estimate)));

    /// <summary>The approval prompt's words on the rest of the job: what it is forecast at, and whether it must fit too.</summary>
    private static string RestOfJob(StepForecast estimate) => estimate.RemainingUsd is not { } rest ? ""
        : estimate.ChecksRemaining ? $" and the llm steps after it ${rest:0.######} (together ${estimate.RequiredUsd:0.######}, which must fit)"
        : $" (the llm steps after it: ${rest:0.######} more)";
}
