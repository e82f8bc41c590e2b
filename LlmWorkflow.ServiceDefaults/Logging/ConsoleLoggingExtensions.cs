using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>Console logging defaults: structured JSON unless the developer picked a formatter.</summary>
public static class ConsoleLoggingExtensions
{
    /// <summary>The configuration key that names the console formatter (<c>json</c>, <c>simple</c>, <c>systemd</c>).</summary>
    public const string FormatterNameKey = "Logging:Console:FormatterName";

    /// <summary>
    /// Logs one JSON object per line with UTC timestamps and scopes (job id, step id) for log collectors. When
    /// <c>Logging:Console:FormatterName</c> is set (e.g. <c>simple</c> for reading locally) that choice stands.
    /// </summary>
    public static TBuilder ConfigureConsoleLogging<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!string.IsNullOrWhiteSpace(builder.Configuration[FormatterNameKey]))
        {
            builder.Logging.AddConsole();
            return builder;
        }

        builder.Logging.AddJsonConsole(json =>
        {
            json.IncludeScopes = true;
            json.UseUtcTimestamp = true;
            json.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
        });
        return builder;
    }
}
