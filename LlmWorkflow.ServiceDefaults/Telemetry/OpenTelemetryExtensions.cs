using LlmWorkflow.ServiceDefaults.Health;
using LlmWorkflow.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// OpenTelemetry traces, metrics and logs for a service, wired with the core SDK (no hosting package exists here).
/// Other code adds to the providers with <c>services.ConfigureTracing(...)</c> and <c>services.ConfigureMetrics(...)</c>.
/// </summary>
public static class OpenTelemetryExtensions
{
    /// <summary>The environment variable that turns the OTLP exporter on (the Aspire dashboard sets it).</summary>
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Registers tracing, metrics and OpenTelemetry logging; exports over OTLP when an endpoint is configured.</summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        // ASP.NET Core 10 leaves the OpenTelemetry tags (http.request.method, url.path, ...) off its activities
        // unless told otherwise; without the instrumentation package we rely on them.
        AppContext.SetSwitch("Microsoft.AspNetCore.Hosting.SuppressActivityOpenTelemetryData", false);

        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } configured
            ? configured
            : builder.Environment.ApplicationName;
        var instanceId = Guid.NewGuid().ToString();
        var environmentName = builder.Environment.EnvironmentName;
        void DescribeService(ResourceBuilder resource) => resource
            .AddService(serviceName, serviceInstanceId: instanceId)
            .AddAttributes([new("deployment.environment.name", environmentName)]);
        var exportOverOtlp = !string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointVariable]);

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });
        builder.Services.ConfigureOpenTelemetryLoggerProvider(logging =>
        {
            logging.ConfigureResource(DescribeService);
            if (exportOverOtlp)
            {
                logging.AddOtlpExporter();
            }
        });

        builder.Services.AddSingleton(services =>
        {
            var tracing = Sdk.CreateTracerProviderBuilder()
                .ConfigureResource(DescribeService)
                .SetSampler(new BackgroundPollingSampler(new HealthProbeSampler(HealthEndpointPaths.All)))
                .AddSource([.. TelemetryNames.ActivitySources]);
            foreach (var setup in services.GetServices<TracingSetup>())
            {
                setup.Configure(services, tracing);
            }

            if (exportOverOtlp)
            {
                tracing.AddOtlpExporter();
            }

            return tracing.Build();
        });
        builder.Services.AddSingleton(services =>
        {
            var metrics = Sdk.CreateMeterProviderBuilder()
                .ConfigureResource(DescribeService)
                .AddMeter([.. TelemetryNames.Meters]);
            foreach (var setup in services.GetServices<MetricsSetup>())
            {
                setup.Configure(services, metrics);
            }

            if (exportOverOtlp)
            {
                metrics.AddOtlpExporter();
            }

            return metrics.Build();
        });
        builder.Services.AddHostedService<OpenTelemetryHostedService>();
        builder.Services.AddTransient<IStartupFilter, HttpServerActivityEnricher>();
        return builder;
    }
}
