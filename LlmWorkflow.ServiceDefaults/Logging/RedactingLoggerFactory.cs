using Microsoft.Extensions.Logging;

namespace LlmWorkflow.ServiceDefaults.Logging;

/// <summary>
/// Wraps the host's logger factory so that every logger it hands out redacts e-mail addresses before any provider
/// (console, OpenTelemetry) sees the line. Wrapping the factory rather than each provider keeps the providers'
/// own filter rules (e.g. <c>Logging:Console:LogLevel</c>) working.
/// </summary>
internal sealed class RedactingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new RedactingLogger(inner.CreateLogger(categoryName));

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();
}
