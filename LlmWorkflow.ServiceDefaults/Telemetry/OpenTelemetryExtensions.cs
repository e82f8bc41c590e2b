using LlmWorkflow.ServiceDefaults.Health;
using LlmWorkflow.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// OpenTelemetry traces, metrics and logs for a service, in the shape of Aspire's service defaults: the hosting
/// package, ASP.NET Core, HttpClient and runtime instrumentation, and the OTLP exporter when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the Aspire AppHost sets it). Client integrations (Npgsql) add their
/// own sources; other code adds with <c>services.ConfigureOpenTelemetryTracerProvider(...)</c>.
/// </summary>
public static class OpenTelemetryExtensions
{
    /// <summary>The environment variable that turns the OTLP exporter on (the Aspire dashboard sets it).</summary>
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The OTLP exporter's retry of transient export failures (off unless set).</summary>
    public const string OtlpRetryVariable = "OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY";

    /// <summary>Registers tracing, metrics and OpenTelemetry logging; exports over OTLP when an endpoint is configured.</summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } configured
            ? configured
            : builder.Environment.ApplicationName;
        var environmentName = builder.Environment.EnvironmentName;
        // Aspire names each replica in OTEL_RESOURCE_ATTRIBUTES (the worker's id is built from the same value), so the
        // dashboard files traces, logs and metrics under the resource it lists; a random id only when none is given.
        var instanceId = ResourceAttribute(builder.Configuration["OTEL_RESOURCE_ATTRIBUTES"], "service.instance.id");
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                .AddService(serviceName, serviceInstanceId: instanceId ?? Guid.NewGuid().ToString())
                .AddAttributes([new("deployment.environment.name", environmentName)]))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter([.. TelemetryNames.Meters]))
            .WithTracing(tracing => tracing
                // Idle background loops (stream reads, heartbeats, outbox polling) start no trace of their own.
                .SetSampler(new BackgroundPollingSampler(new ParentBasedSampler(new AlwaysOnSampler())))
                .AddSource([.. TelemetryNames.ActivitySources])
                // Before any exporter: captured prompts and answers are redacted as the logs are.
                .AddProcessor(new GenAiContentRedactor())
                // Before any exporter too: a worker's no-op stream entries export no job.run (QuietTraceFilter).
                .AddProcessor(new QuietTraceFilter())
                // Orchestrators probe every few seconds and the operator dashboard re-reads its view as often; a filtered
                // request also drops its children (the checks' pings, the reads' queries).
                .AddAspNetCoreInstrumentation(aspNetCore =>
                {
                    aspNetCore.Filter = context => !IsHealthProbe(context.Request.Path) && !QuietTraceFilter.IsDashboardRead(context.Request);
                    // A decision link's token is a capability: the span keeps the route, not the token.
                    aspNetCore.EnrichWithHttpRequest = (activity, request) =>
                    {
                        if (LlmWorkflow.ServiceDefaults.Logging.DecisionLinkRedactor.MayContainLink(request.Path.Value))
                        {
                            activity.SetTag("url.path", LlmWorkflow.ServiceDefaults.Logging.DecisionLinkRedactor.Redact(request.Path.Value!));
                        }
                    };
                })
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointVariable]))
        {
            // A batch the collector (or the Aspire dashboard) refuses for a moment, busy or restarting, is retried
            // rather than dropped; setting the variable (e.g. to "disk") overrides this.
            builder.Configuration[OtlpRetryVariable] ??= "in_memory";
            telemetry.UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>One attribute of an OTEL_RESOURCE_ATTRIBUTES value (<c>key1=value1,key2=value2</c>, values percent-encoded).</summary>
    internal static string? ResourceAttribute(string? attributes, string key) =>
        (attributes ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(pair => pair.Split('=', 2))
            .Where(pair => pair.Length == 2 && pair[0].Trim() == key && pair[1].Trim().Length > 0)
            .Select(pair => Uri.UnescapeDataString(pair[1].Trim()))
            .LastOrDefault();

    private static bool IsHealthProbe(PathString path) =>
        HealthEndpointPaths.All.Any(probe => path.Equals(probe, StringComparison.OrdinalIgnoreCase));
}
