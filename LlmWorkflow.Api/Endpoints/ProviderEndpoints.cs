using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Llm.Budgets;
using LlmWorkflow.Storage.Admission;
using LlmWorkflow.Storage.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>
/// Operator routes for the LLM admission (docs/ADMISSION.md): pause and resume a provider (a zero budget: its steps
/// wait parked, they do not fail) and the budgets with what each has used, reserved and kept waiting.
/// </summary>
internal static class ProviderEndpoints
{
    public static RouteGroupBuilder MapProviderEndpoints(this RouteGroupBuilder providers)
    {
        providers.MapGet("/limits", LimitsAsync)
            .WithName("ProviderLimits")
            .WithSummary("LLM budgets per provider, model, API key and tenant: limits, what the current window used, calls in flight, pauses, waiting jobs and tenants' dollar spend")
            .WithDescription("One entry per configured scope (Llm:Limits:<provider or provider/model>, and each provider nothing configures once its " +
                             "answers said its limits: limits then all null, learned the provider's x-ratelimit-limit-* / anthropic-ratelimit-*-limit; " +
                             "learned beside limits on any scope is what the provider said, held where lower than configured; Llm:Providers:<name>:KeyLimits as key:<first 12 hex " +
                             "of the key's SHA-256> with the providers that share the key in providers, Tenants:<id>:Limits as tenant:<id>) and per " +
                             "paused provider. used counts the sliding window of window_seconds (reserved estimates of calls in flight, real usage of " +
                             "answered ones); blocked_for_ms is the rest of a provider's retry-after after a 429. waiting lists the jobs parked on a " +
                             "budget, by scope and reason (a user's scope, tenant:<id>:user:<user>, appears there while one of its jobs waits), and the " +
                             "batch jobs parked on a provider batch, by provider with reason \"batch\". " +
                             "tenant_spend lists every tenant's daily and monthly dollar budget (Tenants:<id>:Budgets) with what its rolling window " +
                             "spent and reserved and what is left; per-user budgets are each user's own and are read by GET /usage/budget. " +
                             "A provider's, model's or key's scope lists its active tenants (calls in the window, or waiting) with their weight " +
                             "(Tenants:<id>:Weight), their share of the limit among them and what they used: while another tenant waits, a " +
                             "tenant may hold no more than its share. Each tenant lists its users waiting on the scope (users) with their weight " +
                             "(Tenants:<id>:UserWeights:<user_id>; user_id \"\" for jobs without one), their share of the tenant's part among them " +
                             "and what they used: while another user of the tenant waits, a user may hold no more than its share of the tenant's.");
        providers.MapPost("/{name}/pause", PauseAsync)
            .WithName("PauseProvider")
            .WithSummary("Pause an LLM provider: its calls are not made, its steps wait parked (status waiting, kind budget) until it is resumed")
            .WithDescription("name: a provider (openai, anthropic, openrouter, mock or one configured under Llm:Providers); 404 for another. " +
                             "A step already calling the provider finishes. The pause is held in Redis: a Redis that loses its data forgets it.");
        providers.MapPost("/{name}/resume", ResumeAsync)
            .WithName("ResumeProvider")
            .WithSummary("Resume a paused LLM provider: the steps waiting for it are woken at once, highest priority first");
        return providers;
    }

    private static async Task<Ok<ProviderLimitsResponse>> LimitsAsync(
        IOptionsMonitor<AdmissionOptions> options, IAdmissionStore store, LlmProviderRegistry registry, JobLifecycleStore jobs,
        TenantSpendBudgets spend, IOptionsMonitor<TenantBudgetOptions> budgets, CancellationToken cancellationToken)
    {
        var current = options.CurrentValue;
        var scopes = new List<ProviderScopeLimits>();
        foreach (var (scope, limit, providers) in ConfiguredScopes(current))
        {
            scopes.Add(await ScopeAsync(scope, limit, providers, store, current));
        }

        // The providers nothing configures: their limits are learned from their answers (shown once said, or while paused).
        foreach (var provider in registry.KnownProviders().Where(p => !current.Limits.ContainsKey(p)).Order(StringComparer.Ordinal))
        {
            var entry = await ScopeAsync(provider, new LlmLimit(), NoProviders, store, current);
            if (entry.Paused || entry.Learned is not null || entry.Used.Requests > 0)
            {
                scopes.Add(entry);
            }
        }

        var waiting = (await jobs.BudgetWaitersAsync(cancellationToken)).Select(w => new ProviderBudgetWaiters(w.Scope, w.Reason, w.Jobs)).ToList();
        return TypedResults.Ok(new ProviderLimitsResponse(current.Admission.Window.TotalSeconds, scopes, waiting,
            await TenantSpendAsync(spend, budgets.CurrentValue, cancellationToken)));
    }

    private static async Task<ProviderScopeLimits> ScopeAsync(string scope, LlmLimit limit, IReadOnlyList<string> providers, IAdmissionStore store, AdmissionOptions current)
    {
        var used = await store.UsageAsync(scope, current.Admission);
        var learned = used.Learned is { } said ? new ProviderLearnedLimits(said.Requests, said.Tokens, said.InputTokens, said.OutputTokens) : null;
        return new ProviderScopeLimits(scope, new ProviderLimitValues(limit.RequestsPerMinute, limit.TokensPerMinute,
            limit.InputTokensPerMinute, limit.OutputTokensPerMinute, limit.ConcurrentCalls),
            new ProviderWindowUse(used.Requests, used.InputTokens, used.OutputTokens, used.InFlight), used.Paused, used.BlockedForMs,
            Shares(used.Tenants, current)) { Providers = providers, Learned = learned };
    }

    /// <summary>
    /// Every configured scope: providers' and models', API keys' (by fingerprint, with the providers that share each;
    /// never the key), then tenants'.
    /// </summary>
    private static IEnumerable<(string Scope, LlmLimit Limit, IReadOnlyList<string> Providers)> ConfiguredScopes(AdmissionOptions current) =>
        current.Limits.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => (l.Key.ToLowerInvariant(), l.Value, NoProviders))
            .Concat(current.KeyScopes())
            .Concat(current.TenantLimits.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => (AdmissionOptions.TenantScope(l.Key), l.Value, NoProviders)));

    private static readonly IReadOnlyList<string> NoProviders = [];

    /// <summary>The active tenants of a scope with their weights and their weighted shares of it (of the active ones').</summary>
    private static IReadOnlyList<ProviderTenantShare> Shares(IReadOnlyList<TenantWindowUse> tenants, AdmissionOptions options)
    {
        var total = tenants.Sum(t => options.WeightOf(t.TenantId));
        return [.. tenants.Select(t => new ProviderTenantShare(t.TenantId, options.WeightOf(t.TenantId),
            Math.Round(options.WeightOf(t.TenantId) / total, 4), t.Requests, t.Tokens, t.Waiting) { Users = UserShares(t, options) })];
    }

    /// <summary>A tenant's waiting users with their weights and their weighted shares of the tenant's part (of the waiting ones').</summary>
    private static IReadOnlyList<ProviderUserShare> UserShares(TenantWindowUse tenant, AdmissionOptions options)
    {
        var total = tenant.WaitingUsers.Sum(u => options.UserWeightOf(tenant.TenantId, u.UserId));
        return [.. tenant.WaitingUsers.Select(u => new ProviderUserShare(u.UserId, options.UserWeightOf(tenant.TenantId, u.UserId),
            Math.Round(options.UserWeightOf(tenant.TenantId, u.UserId) / total, 4), u.Requests, u.Tokens))];
    }

    /// <summary>Every tenant's daily and monthly dollar budgets, as <c>GET /usage/budget</c> reports its caller's.</summary>
    private static async Task<IReadOnlyList<TenantSpend>> TenantSpendAsync(TenantSpendBudgets spend, TenantBudgetOptions budgets, CancellationToken cancellationToken)
    {
        var tenants = new List<TenantSpend>();
        foreach (var tenant in budgets.Tenants.Keys.Order(StringComparer.Ordinal))
        {
            foreach (var scope in spend.Scopes(tenant, userId: null))
            {
                tenants.Add(new TenantSpend(tenant, BudgetUsageEntry.From(scope, await spend.UsageAsync(scope, cancellationToken))));
            }
        }

        return tenants;
    }

    private static Task<Results<Ok<ProviderPauseResponse>, NotFound<ProviderProblem>>> PauseAsync(string name, IAdmissionStore store, LlmProviderRegistry registry) =>
        SetPausedAsync(name, true, store, registry);

    private static Task<Results<Ok<ProviderPauseResponse>, NotFound<ProviderProblem>>> ResumeAsync(string name, IAdmissionStore store, LlmProviderRegistry registry) =>
        SetPausedAsync(name, false, store, registry);

    private static async Task<Results<Ok<ProviderPauseResponse>, NotFound<ProviderProblem>>> SetPausedAsync(
        string name, bool paused, IAdmissionStore store, LlmProviderRegistry registry)
    {
        var provider = name.ToLowerInvariant();
        if (!registry.KnownProviders().Contains(provider, StringComparer.OrdinalIgnoreCase))
        {
            return TypedResults.NotFound(new ProviderProblem("provider_not_found",
                $"No LLM provider is named '{(name.Length > 100 ? name[..100] : name)}'.", [.. registry.KnownProviders().Order(StringComparer.Ordinal)]));
        }

        await store.SetPausedAsync(provider, paused);
        return TypedResults.Ok(new ProviderPauseResponse(provider, paused));
    }
}

internal sealed record ProviderPauseResponse(string Provider, bool Paused);

/// <param name="ValidProviders">The providers that exist here.</param>
internal sealed record ProviderProblem(string Error, string Message, IReadOnlyList<string> ValidProviders);

internal sealed record ProviderLimitsResponse(
    double WindowSeconds, IReadOnlyList<ProviderScopeLimits> Scopes, IReadOnlyList<ProviderBudgetWaiters> Waiting, IReadOnlyList<TenantSpend> TenantSpend);

/// <summary>One tenant's dollar budget and its window's spend.</summary>
internal sealed record TenantSpend(string TenantId, BudgetUsageEntry Budget);

/// <param name="Tenants">
/// The tenants with calls in the window or waiting on this provider's or model's scope; while more than one waits, each
/// may hold its share of the limit (docs/ADMISSION.md, "Fair shares between tenants").
/// </param>
internal sealed record ProviderScopeLimits(
    string Scope, ProviderLimitValues Limits, ProviderWindowUse Used, bool Paused, long BlockedForMs, IReadOnlyList<ProviderTenantShare> Tenants)
{
    /// <summary>For an API key's scope (<c>key:&lt;fingerprint&gt;</c>): the providers whose calls reserve in it; empty for other scopes.</summary>
    public IReadOnlyList<string> Providers { get; init; } = [];

    /// <summary>
    /// The limits the provider's answers said (x-ratelimit-limit-*, anthropic-ratelimit-*-limit), which the admission
    /// holds to: with nothing configured they are the limits; below a configured limit they replace it. Null: none said.
    /// </summary>
    public ProviderLearnedLimits? Learned { get; init; }
}

/// <summary>Limits learned from a provider's answers, per its window (null = not said).</summary>
internal sealed record ProviderLearnedLimits(long? RequestsPerMinute, long? TokensPerMinute, long? InputTokensPerMinute, long? OutputTokensPerMinute);

/// <summary>One tenant's part of a scope: its weight (Tenants:&lt;id&gt;:Weight), its share of the limit among the active tenants (0–1), what its calls used in the window, and whether it waits.</summary>
internal sealed record ProviderTenantShare(string TenantId, double Weight, double Share, long UsedRequests, long UsedTokens, bool Waiting)
{
    /// <summary>
    /// The tenant's users waiting on the scope: while more than one waits, each may hold its share of the tenant's part
    /// (docs/ADMISSION.md, "Fair shares between tenants").
    /// </summary>
    public IReadOnlyList<ProviderUserShare> Users { get; init; } = [];
}

/// <summary>One waiting user's part of its tenant's: its weight (Tenants:&lt;id&gt;:UserWeights:&lt;user_id&gt;), its share of the tenant's part among the tenant's waiting users (0–1), and what its calls used in the window.</summary>
internal sealed record ProviderUserShare(string UserId, double Weight, double Share, long UsedRequests, long UsedTokens);

/// <summary>Null = not limited.</summary>
internal sealed record ProviderLimitValues(int? RequestsPerMinute, int? TokensPerMinute, int? InputTokensPerMinute, int? OutputTokensPerMinute, int? ConcurrentCalls);

internal sealed record ProviderWindowUse(long Requests, long InputTokens, long OutputTokens, long InFlight);

internal sealed record ProviderBudgetWaiters(string Scope, string Reason, long Jobs);
