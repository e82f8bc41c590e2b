using Microsoft.Extensions.Options;

namespace LlmWorkflow.Engine.Llm.Budgets;

/// <summary>
/// Dollar budgets per tenant and per user: <c>Tenants:&lt;tenant&gt;:Budgets:{DailyUsd, MonthlyUsd, PerUserDailyUsd}</c>,
/// counted over rolling windows (<c>Budgets:DailyWindow</c>, 24 h; <c>Budgets:MonthlyWindow</c>, 30 days). A tenant
/// with no budget set is not held back.
/// </summary>
public sealed class TenantBudgetOptions
{
    /// <summary>By tenant id (the tenant of the API key that submitted the job).</summary>
    public Dictionary<string, TenantBudgetEntry> Tenants { get; set; } = new(StringComparer.Ordinal);

    public BudgetWindows Windows { get; set; } = new();

    /// <summary>The tenant's budgets, or null when it has none.</summary>
    public TenantBudget? For(string? tenantId) =>
        tenantId is not null && Tenants.TryGetValue(tenantId, out var entry) && entry.Budgets is { IsSet: true } budget ? budget : null;

    /// <summary>Problems with the settings, in the settings' own names (empty when they are valid).</summary>
    public IEnumerable<string> Problems()
    {
        foreach (var (tenant, entry) in Tenants)
        {
            foreach (var (name, value) in entry.Budgets?.Values() ?? [])
            {
                if (value is < 0 or > 10_000_000)
                {
                    yield return $"Tenants:{tenant}:Budgets:{name} must be between 0 and 10000000 (US dollars); got {value}.";
                }
            }
        }

        if (Windows.DailyWindow < TimeSpan.FromSeconds(1) || Windows.MonthlyWindow < TimeSpan.FromSeconds(1)
            || Windows.DailyWindow > TimeSpan.FromDays(400) || Windows.MonthlyWindow > TimeSpan.FromDays(400))
        {
            yield return $"Budgets:DailyWindow and Budgets:MonthlyWindow must be between 00:00:01 and 400 days; got {Windows.DailyWindow} and {Windows.MonthlyWindow}.";
        }
    }
}

/// <summary>One tenant's settings under <c>Tenants:&lt;id&gt;</c> that budgets read (other settings may sit beside them).</summary>
public sealed class TenantBudgetEntry
{
    public TenantBudget? Budgets { get; set; }
}

/// <summary>A tenant's dollar budgets; null = not limited, 0 = nothing paid is admitted.</summary>
public sealed class TenantBudget
{
    /// <summary>US dollars the tenant may spend in the rolling daily window.</summary>
    public decimal? DailyUsd { get; set; }

    /// <summary>US dollars the tenant may spend in the rolling monthly window.</summary>
    public decimal? MonthlyUsd { get; set; }

    /// <summary>US dollars each user of the tenant (the job's user_id) may spend in the rolling daily window.</summary>
    public decimal? PerUserDailyUsd { get; set; }

    public bool IsSet => DailyUsd is not null || MonthlyUsd is not null || PerUserDailyUsd is not null;

    public IEnumerable<(string Name, decimal? Value)> Values() =>
        [(nameof(DailyUsd), DailyUsd), (nameof(MonthlyUsd), MonthlyUsd), (nameof(PerUserDailyUsd), PerUserDailyUsd)];
}

/// <summary><c>Budgets</c>: the lengths of the rolling windows (tests and demos shorten them).</summary>
public sealed class BudgetWindows
{
    public TimeSpan DailyWindow { get; set; } = TimeSpan.FromDays(1);

    public TimeSpan MonthlyWindow { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How long a step waits in its worker for other steps' reservations to settle (their calls to answer) when only
    /// those stand between it and the budget; then it parks briefly instead.
    /// </summary>
    public TimeSpan PendingWait { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Refuses the start on invalid budgets, naming each setting.</summary>
public sealed class TenantBudgetOptionsValidator : IValidateOptions<TenantBudgetOptions>
{
    public ValidateOptionsResult Validate(string? name, TenantBudgetOptions options) =>
        options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
