using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace LlmWorkflow.ServiceDefaults.Telemetry;

/// <summary>A registered addition to the tracer provider (see <c>ConfigureTracing</c>).</summary>
internal sealed record TracingSetup(Action<IServiceProvider, TracerProviderBuilder> Configure);

/// <summary>A registered addition to the meter provider (see <c>ConfigureMetrics</c>).</summary>
internal sealed record MetricsSetup(Action<IServiceProvider, MeterProviderBuilder> Configure);
