using LlmWorkflow.ServiceDefaults.Configuration;
using LlmWorkflow.ServiceDefaults.Resilience;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every LlmWorkflow service shares, in the spirit of Aspire's ServiceDefaults: OpenTelemetry, health checks,
/// resilient HttpClients and structured console logs (with e-mail addresses redacted).
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Adds the service defaults; call it first thing on the application builder.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        PlatformEnvironmentVariables.AddFallbacks(builder.Configuration);
        builder.ConfigureConsoleLogging();
        builder.RedactEmailsInLogs();
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        // A null name binds the section for every named client, not just the unnamed one.
        builder.Services.Configure<HttpResilienceOptions>(name: null, builder.Configuration.GetSection(HttpResilienceOptions.SectionName));
        builder.Services.ConfigureHttpClientDefaults(http => http.AddStandardResilience());
        return builder;
    }
}
