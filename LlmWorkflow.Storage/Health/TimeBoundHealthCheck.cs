using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmWorkflow.Storage.Health;

/// <summary>
/// Answers for a check that has not answered within <see cref="Timeout"/>: a stalled dependency (a paused Redis, a
/// PostgreSQL that accepts connections but no queries) would otherwise hold <c>/health</c> for its client's whole
/// command timeout, longer than a probe waits. The registration's own timeout is not used because it reports a timeout
/// with the registration's failure status, and a slow Redis is degraded where a refusing one is unhealthy.
/// Every answer carries the dependency's <c>type</c> in its data (document 001's <c>services.database.type</c>).
/// </summary>
internal sealed class TimeBoundHealthCheck(IHealthCheck inner, HealthStatus statusWhenSlow, string dependency, string type) : IHealthCheck
{
    /// <summary>Within a probe's usual one-second budget, with room for the response.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(800);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return Typed(await inner.CheckHealthAsync(context, cancellationToken).WaitAsync(Timeout, cancellationToken));
        }
        catch (TimeoutException)
        {
            return Typed(new HealthCheckResult(statusWhenSlow, $"{dependency} did not answer within {Timeout.TotalMilliseconds:F0} ms (stalled or overloaded)."));
        }
    }

    /// <summary>Wraps the named registration's check (no-op when there is none).</summary>
    /// <param name="type">What the dependency is, as <c>/health</c> and <c>/api/v1/health</c> name it (e.g. <c>postgresql</c>).</param>
    public static void Apply(HealthCheckServiceOptions options, string name, HealthStatus statusWhenSlow, string dependency, string type)
    {
        foreach (var registration in options.Registrations.Where(r => r.Name == name))
        {
            var factory = registration.Factory;
            registration.Factory = services => new TimeBoundHealthCheck(factory(services), statusWhenSlow, dependency, type);
        }
    }

    private HealthCheckResult Typed(HealthCheckResult result) =>
        new(result.Status, result.Description, result.Exception, new Dictionary<string, object>(result.Data) { ["type"] = type });
}
