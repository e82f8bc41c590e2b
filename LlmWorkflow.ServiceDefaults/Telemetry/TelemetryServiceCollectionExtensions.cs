using LlmWorkflow.ServiceDefaults.Telemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Additions to the tracer and meter providers that <c>AddServiceDefaults</c> builds (extra sources, meters,
/// processors, exporters). The core SDK's own <c>ConfigureOpenTelemetry*Provider</c> hooks only reach providers
/// built by its hosting package, which is not available here.
/// </summary>
public static class TelemetryServiceCollectionExtensions
{
    /// <summary>Runs <paramref name="configure"/> on the tracer provider builder before it is built.</summary>
    public static IServiceCollection ConfigureTracing(this IServiceCollection services, Action<IServiceProvider, TracerProviderBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddSingleton(new TracingSetup(configure));
    }

    /// <summary>Runs <paramref name="configure"/> on the meter provider builder before it is built.</summary>
    public static IServiceCollection ConfigureMetrics(this IServiceCollection services, Action<IServiceProvider, MeterProviderBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddSingleton(new MetricsSetup(configure));
    }
}
