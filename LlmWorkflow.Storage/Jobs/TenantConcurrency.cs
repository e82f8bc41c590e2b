using System.Diagnostics.Metrics;
using LlmWorkflow.Engine;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// How many of a tenant's jobs may run at once, over every worker: <c>Tenants:&lt;id&gt;:MaxConcurrentJobs</c> (unset: no
/// cap). A job claimed past its tenant's cap waits for one of the tenant's slots without holding a worker's, so one
/// tenant's backlog cannot take every worker from the others (docs/ADMISSION.md, "Concurrent jobs per tenant").
/// </summary>
public sealed class TenantConcurrencyOptions
{
    public const int MaxCap = 100_000;

    /// <summary>By tenant id; other settings of a tenant (its budgets) sit beside the cap.</summary>
    public Dictionary<string, TenantConcurrencyEntry> Tenants { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Problems with the settings, in the settings' own names (empty when they are valid).</summary>
    public IEnumerable<string> Problems() =>
        Tenants.Where(t => t.Value.MaxConcurrentJobs is < 1 or > MaxCap)
            .Select(t => $"Tenants:{t.Key}:MaxConcurrentJobs must be between 1 and {MaxCap}; got {t.Value.MaxConcurrentJobs}.");
}

/// <summary>One tenant's settings under <c>Tenants:&lt;id&gt;</c> that the cap reads.</summary>
public sealed class TenantConcurrencyEntry
{
    public int? MaxConcurrentJobs { get; set; }
}

/// <summary>Refuses the start on an invalid cap, naming the setting.</summary>
public sealed class TenantConcurrencyOptionsValidator : IValidateOptions<TenantConcurrencyOptions>
{
    public ValidateOptionsResult Validate(string? name, TenantConcurrencyOptions options) =>
        options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}

/// <summary>The tenants' caps as the slot statements take them: two parallel arrays, sorted by tenant id.</summary>
public sealed class TenantConcurrency
{
    /// <summary>
    /// What a job held from its submission shows as <c>waiting_for.until</c>: when the workers' reconciler looks at it
    /// at the latest (its default interval; the API does not know the workers' setting). A release wakes it sooner.
    /// </summary>
    public static readonly TimeSpan SlotRecheckAfter = TimeSpan.FromSeconds(3);

    /// <summary>Jobs held for a slot, by where (<c>at</c>): <c>submit</c> (the API) or <c>claim</c> (a worker).</summary>
    public static readonly Counter<long> SlotWaits = Telemetry.Meter.CreateCounter<long>(
        "llmworkflow.jobs.slot_waits", unit: "{job}",
        description: "Jobs held waiting for a slot because their tenant had Tenants:<id>:MaxConcurrentJobs, or their concurrency key its limit, "
            + "queued or running already, or (Worker:TenantSlotShares) their tenant ran its share of the workers' slots; "
            + "at = submit (held from the start) or claim (parked by a worker's claim).");

    private readonly Dictionary<string, int> _caps;

    public TenantConcurrency(IOptions<TenantConcurrencyOptions> options)
    {
        _caps = options.Value.Tenants.Where(t => t.Value.MaxConcurrentJobs is not null)
            .ToDictionary(t => t.Key, t => t.Value.MaxConcurrentJobs!.Value, StringComparer.Ordinal);
        Tenants = [.. _caps.Keys.Order(StringComparer.Ordinal)];
        Limits = [.. Tenants.Select(t => _caps[t])];
    }

    /// <summary>The capped tenants, sorted.</summary>
    public string[] Tenants { get; }

    /// <summary>Their caps, in the order of <see cref="Tenants"/>.</summary>
    public int[] Limits { get; }

    /// <summary>Whether any tenant is capped (else claims take no lock and count nothing).</summary>
    public bool Any => Tenants.Length > 0;

    /// <summary>The tenant's cap, or null when it has none.</summary>
    public int? CapOf(string? tenantId) => tenantId is not null && _caps.TryGetValue(tenantId, out var cap) ? cap : null;
}
