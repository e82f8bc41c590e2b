using LlmWorkflow.Api.Auth;
using LlmWorkflow.Storage.Admission;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>The caller's tenant's dollar budgets (Tenants:&lt;id&gt;:Budgets) against what its windows spent (docs/ADMISSION.md).</summary>
internal static class BudgetEndpoints
{
    public static RouteGroupBuilder MapBudgetEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/usage/budget", BudgetAsync)
            .WithName("UsageBudget")
            .WithSummary("The caller's tenant's dollar budgets and what their rolling windows have spent and reserved")
            .WithDescription("One entry per budget set for the caller's own tenant (Tenants__<tenant>__Budgets__DailyUsd, MonthlyUsd, and " +
                             "PerUserDailyUsd for the caller's user: the key's bound user, else X-User-Id, else user_id). spent_usd is what paid " +
                             "calls cost within the last window_seconds, reserved_usd the forecasts of calls in flight; remaining_usd is what a new " +
                             "step's forecast must fit in. The windows are shared by every worker (Redis) and re-seeded from the usage rows when " +
                             "Redis has no state. A tenant without budgets gets an empty list.");
        return api;
    }

    private static async Task<Ok<BudgetUsageResponse>> BudgetAsync(HttpContext http, TenantSpendBudgets budgets, CancellationToken cancellationToken)
    {
        var caller = CallerScope.From(http);
        var user = caller.Contradictory ? null : caller.UserId;
        var entries = new List<BudgetUsageEntry>();
        foreach (var scope in budgets.Scopes(caller.TenantId, user))
        {
            entries.Add(BudgetUsageEntry.From(scope, await budgets.UsageAsync(scope, cancellationToken)));
        }

        return TypedResults.Ok(new BudgetUsageResponse(caller.TenantId, user, entries));
    }
}

/// <summary>The caller's tenant's dollar budgets.</summary>
internal sealed record BudgetUsageResponse(string TenantId, string? UserId, IReadOnlyList<BudgetUsageEntry> Budgets);

/// <summary>One budget: <c>daily</c>, <c>monthly</c> or <c>per_user_daily</c>, its limit and its window's spend.</summary>
internal sealed record BudgetUsageEntry(
    string Budget, string Scope, string? UserId, decimal LimitUsd, decimal SpentUsd, decimal ReservedUsd, decimal RemainingUsd, double WindowSeconds)
{
    public static BudgetUsageEntry From(SpendScope scope, SpendUsage usage) => new(
        scope.Kind, scope.Scope, scope.UserId, scope.LimitUsd, usage.SettledUsd, usage.ReservedUsd,
        Math.Max(0, scope.LimitUsd - usage.SettledUsd - usage.ReservedUsd), scope.Window.TotalSeconds);
}
