using LlmWorkflow.ServiceDefaults;
using LlmWorkflow.ServiceDefaults.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every LlmWorkflow service shares, as in Aspire's ServiceDefaults template: OpenTelemetry, health checks,
/// service discovery and structured console logs (with e-mail addresses and API keys redacted).
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Adds the service defaults; call it first thing on the application builder.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        StartupRefusals.ReportInOneLine();
        PlatformEnvironmentVariables.AddFallbacks(builder.Configuration);
        PlatformEnvironmentVariables.ApplyEnvironmentName(builder);
        builder.ConfigureConsoleLogging();
        builder.RedactEmailsInLogs();
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        // Unlike Aspire's template, no ConfigureHttpClientDefaults: every outbound client of these services says what
        // it gets (LLM providers and external APIs: a per-host circuit breaker and timeouts, their gateways' own
        // retries; webhooks: their recorded schedule only), and webhook and http-step URLs come from users, so
        // service discovery must not rewrite them. A client calling another resource of the app opts in with
        // AddServiceDiscovery() (and AddStandardResilienceHandler()).
        builder.Services.AddServiceDiscovery();
        return builder;
    }
}
