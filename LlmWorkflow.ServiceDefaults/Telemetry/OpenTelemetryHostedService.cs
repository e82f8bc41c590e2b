using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace LlmWorkflow.ServiceDefaults.Telemetry;

/// <summary>
/// Ties the tracer and meter providers (built with the core SDK, which has no host integration) to the host's
/// lifetime: resolving them here starts listening before the server takes requests; stopping flushes what is
/// buffered. The container disposes them afterwards.
/// </summary>
internal sealed class OpenTelemetryHostedService(TracerProvider tracerProvider, MeterProvider meterProvider) : IHostedService
{
    private const int FlushTimeoutMilliseconds = 5_000;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        tracerProvider.ForceFlush(FlushTimeoutMilliseconds);
        meterProvider.ForceFlush(FlushTimeoutMilliseconds);
        return Task.CompletedTask;
    }
}
