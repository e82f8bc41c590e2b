using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Llm.Batches;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// What an llm step does for the capabilities a plain job does not use: the job's <c>budget_usd</c> and the tenant's
/// dollar budget held against each call's worst case (and the forecast of the steps after it), the parks on a provider
/// budget or a provider batch, and the service tier in the output (docs/ADMISSION.md). A job with none of them passes
/// through here without a reservation.
/// </summary>
internal sealed partial class LlmStepHandler
{
    /// <summary>The kind of wait of a step whose LLM call waits for a provider budget (docs/ADMISSION.md).</summary>
    public const string BudgetWaitKind = "budget";

    /// <summary>The kind of wait of a batch job's step whose call runs as a provider batch (docs/ADMISSION.md, "Batch").</summary>
    public const string BatchWaitKind = "batch";

    /// <summary>The reservations one call holds; <see cref="CallBudget.None"/> for a job without a budget.</summary>
    private sealed class CallBudget(decimal? jobReserved, SpendReservation? spend)
    {
        public static readonly CallBudget None = new(null, null);

        /// <summary>The models the tenant's budget lets the call use (on_budget: downgrade), or null: the step's.</summary>
        public IReadOnlyList<string>? Models => spend?.Models;

        public string? DowngradedFrom => spend?.DowngradedFrom;

        /// <summary>Gives the job's hold back and settles the tenant's reservation at what was paid.</summary>
        public async Task SettleAsync(StepContext context, decimal paidUsd)
        {
            if (jobReserved is { } amount)
            {
                context.Run.Usage.Release(amount);
            }

            if (spend is not null)
            {
                // What the calls cost (a cache hit, a deferral or a failure cost nothing; a refused answer was paid).
                await spend.SettleAsync(paidUsd);
            }
        }
    }

    /// <summary>Holds the call's worst case against the job's budget, then the tenant's (which may downgrade or park it).</summary>
    private async Task<CallBudget> ReserveBudgetsAsync(
        StepContext context, LlmStepPlan plan, IReadOnlyList<ChatMessage> messages, decimal? remaining, CancellationToken cancellationToken)
    {
        if (context.Run.Usage.MaxCostUsd is null && context.Run.SpendBudget is null)
        {
            return CallBudget.None;
        }

        var reserved = Reserve(context, plan.Models, messages, plan.MaxTokens, remaining);
        try
        {
            var spend = await StepSpend.ReserveAsync(context, plan.Models, messages, plan.MaxTokens, prices, remaining, cancellationToken);
            return reserved is null && spend is null ? CallBudget.None : new CallBudget(reserved, spend);
        }
        catch
        {
            if (reserved is { } amount)
            {
                context.Run.Usage.Release(amount);
            }

            throw;
        }
    }

    /// <summary>The park a call's deferral means: on a provider budget (kind budget) or a provider batch (kind batch); else null.</summary>
    private static RunParkedException? ParkFor(StepContext context, Exception waits) => waits switch
    {
        // The batch runs at the provider: the job parks (no worker slot) with the batch recorded, and looks again then.
        BatchPendingException pending => new RunParkedException(new RunWait(context.Step.Id, context.StepKey, BatchWaitKind, pending.Until, Batch: pending.State.ToJson())),
        AdmissionDeferredException deferred => new RunParkedException(new RunWait(context.Step.Id, context.StepKey, BudgetWaitKind, deferred.Until,
            Budget: new JsonObject { ["scope"] = deferred.Scope, ["reason"] = deferred.Reason, ["provider"] = deferred.Provider })),
        _ => null,
    };

    /// <summary>The request with the batch this step recorded when it parked (its run resumed from that wait), if any.</summary>
    private static LlmCallRequest ResumingWait(StepContext context, LlmCallRequest request) =>
        context.Run.ResumedWait?.Of(context.StepKey) is { Kind: BatchWaitKind } wait ? request with { Batch = BatchState.FromJson(wait.Batch) } : request;

    /// <summary>
    /// The job's remaining-cost forecast after this step (<see cref="JobCostForecast"/>, built at the run's first paid
    /// step); null when no budget applies to the job (nothing to check it against) or there is no price table.
    /// </summary>
    private async Task<decimal?> RemainingForecastAsync(StepContext context)
    {
        var run = context.Run;
        if ((run.Usage.MaxCostUsd is null && run.SpendBudget is null) || (run.Prices ?? prices) is not { } table)
        {
            return null;
        }

        // Built once for the run and shared by its steps, so not tied to one step's cancellation.
        var forecast = await run.CostForecast(() => BuildForecastAsync(run, table));
        return forecast.RemainingAfter(run.Workflow, context.Step.Id);
    }

    private async Task<JobCostForecast> BuildForecastAsync(RunState run, IPriceTable table)
    {
        try
        {
            var planned = new DryRunPlanner(new WorkflowValidator(), run.Prompts ?? prompts, table).PlanSteps(run.Workflow, run.Input, run.Context);
            return await JobCostForecast.BuildAsync(run.Workflow.Name, planned, table, run.CostHistory, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A forecast that cannot be made (history unreachable, a plan that does not render) is reported as 0: the
            // step's own check still applies, and a job is never failed for its forecast's sake.
            return new JobCostForecast(new Dictionary<string, decimal>());
        }
    }

    /// <summary>Reserves the call's worst-case cost against the budget; null when there is no budget or no price to check.</summary>
    private decimal? Reserve(StepContext context, IReadOnlyList<string> models, IReadOnlyList<ChatMessage> messages, int? maxTokens, decimal? remaining)
    {
        if (context.Run.Usage.MaxCostUsd is not { } max || (context.Run.Prices ?? prices) is not { } table)
        {
            return null;
        }

        var inputTokens = LlmCostEstimator.EstimateTokens(string.Concat(messages.Select(m => m.Text)));
        if (LlmCostEstimator.MaxCost(table, models, inputTokens, maxTokens ?? LlmCostEstimator.DefaultMaxOutputTokens) is not { } estimate)
        {
            return null;
        }

        var forecast = new StepForecast(estimate, remaining, Llm.Budgets.BudgetCheck.ChecksRemaining(context.Run.Workflow));
        return context.Run.Usage.TryReserve(estimate, forecast.RequiredUsd, out var spent)
            ? estimate
            : throw BudgetGuard.Exceeded(context.Step.Id, spent, forecast, max);
    }

    /// <summary>
    /// A job that asked for a tier sees which one served the call, the list price and what the tier saved; a provider
    /// without that tier ran it at standard, and <c>requested_service_tier</c> says what was asked.
    /// </summary>
    private static void AddTier(JsonObject usage, LlmCallResult result, string requested)
    {
        usage["service_tier"] = result.ServiceTier;
        usage["requested_service_tier"] = requested;
        usage["list_cost_usd"] = result.ListCostUsd;
        usage["discount_usd"] = result.DiscountUsd;
    }
}
