using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Operators;

/// <summary>
/// Merges the live workers' provider health reports into one view per provider and model: counts summed, the latest
/// errors of any worker, and the circuit state across workers (open when any worker's breaker is open: that worker
/// refuses calls; half-open when any probes).
/// </summary>
internal static class ProviderHealthView
{
    public static ProviderHealthResponse Merge(IReadOnlyList<WorkerProviderHealth> reports, DateTimeOffset now)
    {
        var window = reports.Count == 0 ? ProviderHealthTracker.Window.TotalSeconds : reports.Max(r => r.Snapshot.WindowSeconds);
        var providers = reports
            .SelectMany(r => r.Snapshot.Models.Select(m => (r.WorkerId, Model: m)))
            .GroupBy(x => x.Model.Provider, StringComparer.Ordinal)
            .Select(g => Provider(g.Key, [.. g], now))
            .OrderByDescending(p => p.Failures).ThenBy(p => p.Provider, StringComparer.Ordinal)
            .ToList();
        return new ProviderHealthResponse(now, window, [.. reports.Select(r => r.WorkerId).Order(StringComparer.Ordinal)], providers);
    }

    /// <summary>
    /// Lays every provider's shared outage breaker over the workers' view: an open or half-open outage is the circuit
    /// state (steps park on it), and a provider out with no call in the window still appears.
    /// </summary>
    public static async Task<ProviderHealthResponse> WithOutagesAsync(ProviderHealthResponse merged, LlmProviderRegistry registry, LlmWorkflow.Engine.Llm.Admission.IProviderOutageStore outages)
    {
        var providers = merged.Providers.ToDictionary(p => p.Provider, StringComparer.Ordinal);
        foreach (var name in registry.KnownProviders().Where(p => p != "mock"))
        {
            LlmWorkflow.Engine.Llm.Admission.ProviderOutageState outage;
            try
            {
                outage = await outages.StateAsync(name);
            }
            catch (StackExchange.Redis.RedisException)
            {
                continue; // the workers' view is still worth showing
            }

            var entry = providers.GetValueOrDefault(name) ?? (outage.State == "closed" ? null
                : new ProviderHealthEntry(name, 0, 0, null, "unknown", [], null, null, []));
            if (entry is not null)
            {
                providers[name] = entry with
                {
                    Outage = new ProviderOutageEntry(outage.State, outage.ConsecutiveFailures, outage.OpenedAt, outage.OpenUntil),
                    CircuitState = outage.State != "closed" ? outage.State : entry.CircuitState == "unknown" ? "closed" : entry.CircuitState,
                    OpenUntil = outage.State == "open" ? outage.OpenUntil : entry.OpenUntil,
                };
            }
        }

        return merged with { Providers = [.. providers.Values.OrderByDescending(p => p.Outage?.State is "open" or "half_open").ThenByDescending(p => p.Failures).ThenBy(p => p.Provider, StringComparer.Ordinal)] };
    }

    private static ProviderHealthEntry Provider(string provider, List<(string WorkerId, ModelHealth Model)> reports, DateTimeOffset now)
    {
        var models = reports.GroupBy(x => x.Model.Model, StringComparer.Ordinal)
            .Select(g => Model(g.Key, [.. g]))
            .OrderByDescending(m => m.Failures).ThenBy(m => m.Model, StringComparer.Ordinal)
            .ToList();
        var calls = models.Sum(m => m.Calls);
        var failures = models.Sum(m => m.Failures);

        // One circuit per worker and host: the models of a provider share it.
        var circuits = reports.Where(x => x.Model.Circuit is not null)
            .GroupBy(x => x.WorkerId, StringComparer.Ordinal)
            .Select(g => (WorkerId: g.Key, Circuit: Current(g.First().Model.Circuit!, now)))
            .ToList();
        var open = circuits.Where(c => c.Circuit.State == "open").ToList();
        var state = open.Count > 0 ? "open"
            : circuits.Any(c => c.Circuit.State == "half_open") ? "half_open"
            : circuits.Count > 0 ? "closed"
            : "unknown";
        var topError = models.SelectMany(m => m.FailuresByType).GroupBy(p => p.Key).OrderByDescending(g => g.Sum(p => p.Value)).FirstOrDefault()?.Key;
        return new ProviderHealthEntry(provider, calls, failures, Rate(calls, failures), state,
            [.. open.Select(c => c.WorkerId).Order(StringComparer.Ordinal)], open.Max(c => c.Circuit.OpenUntil),
            topError is null ? null : ErrorSuggestions.AdviceFor(topError, "EXTERNAL_ERROR"), models);
    }

    /// <summary>An open breaker whose break has passed lets the next call probe: it is half-open now, even if no call came since.</summary>
    private static CircuitReport Current(CircuitReport circuit, DateTimeOffset now) =>
        circuit is { State: "open", OpenUntil: { } until } && until <= now ? circuit with { State = "half_open", OpenUntil = null } : circuit;

    private static ModelHealthEntry Model(string model, List<(string WorkerId, ModelHealth Model)> reports)
    {
        var calls = reports.Sum(r => r.Model.Calls);
        var failures = reports.Sum(r => r.Model.Failures);
        var byType = reports.SelectMany(r => r.Model.FailuresByType)
            .GroupBy(p => p.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(p => p.Value), StringComparer.Ordinal);
        var lastErrors = reports.SelectMany(r => r.Model.LastErrors.Select(e => new ProviderErrorEntry(e.At, e.Type, e.Message, e.HttpStatus, r.WorkerId)))
            .OrderByDescending(e => e.At).Take(ProviderHealthTracker.LastErrorCount).ToList();
        return new ModelHealthEntry(model, calls, failures, Rate(calls, failures), byType, reports.Max(r => r.Model.LastAnsweredAt), lastErrors);
    }

    private static double? Rate(int calls, int failures) => calls == 0 ? null : Math.Round((double)failures / calls, 4);
}
