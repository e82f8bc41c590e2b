using LlmWorkflow.ServiceDefaults.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>E-mail addresses (document 004: PII redaction in logs) and API keys never reach a log sink.</summary>
public static class LogRedactionExtensions
{
    /// <summary>Replaces the logger factory with one whose loggers redact e-mail addresses and API keys in messages and arguments.</summary>
    public static TBuilder RedactEmailsInLogs<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<ILoggerFactory>(services => new RedactingLoggerFactory(new LoggerFactory(
            services.GetServices<ILoggerProvider>(),
            services.GetRequiredService<IOptionsMonitor<LoggerFilterOptions>>(),
            services.GetService<IOptions<LoggerFactoryOptions>>(),
            services.GetService<IExternalScopeProvider>())));
        return builder;
    }
}
