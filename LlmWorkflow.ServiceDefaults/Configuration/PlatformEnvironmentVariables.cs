using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.ServiceDefaults.Configuration;

/// <summary>
/// The requirement documents' environment variable names (Render, Heroku-style platforms, docker-compose files)
/// accepted for this service's own settings, so one container image runs on any platform. A document variable wins
/// over the settings files (the shipped appsettings.json sets defaults such as the log level, which a platform's
/// variable must be able to change); a setting given under its own name by any other source (an environment variable
/// such as <c>ConnectionStrings__postgres</c>, the command line) wins over the document variable.
/// </summary>
public static class PlatformEnvironmentVariables
{
    /// <summary>The fallbacks: document name, the setting it feeds, and how its value is translated.</summary>
    public static IReadOnlyList<(string Variable, string Setting, Func<string, string> Translate)> Mappings { get; } =
    [
        ("DATABASE_URL", "ConnectionStrings:postgres", PostgresUrlToConnectionString),
        // Redis URLs (redis://[user:pass@]host:port/db, rediss:// for TLS) are understood by the Redis client as they are.
        ("REDIS_URL", "ConnectionStrings:redis", value => value),
        ("PORT", "urls", value => $"http://0.0.0.0:{ParsePort(value)}"),
        ("LOG_LEVEL", "Logging:LogLevel:Default", ToLogLevel),
        ("WEBHOOK_TIMEOUT", "Webhooks:Timeout", value => TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture)).ToString("c", CultureInfo.InvariantCulture)),
        ("WEBHOOK_URL", "Webhooks:DefaultUrl", value => value),
        ("CORS_ALLOWED_ORIGINS", "Cors:AllowedOrigins", value => value),
        // Document 001's default lifetime of cached external API answers, in seconds (see ExternalServicesOptions.DefaultCacheTtl).
        ("CACHE_DEFAULT_TTL", "External:DefaultCacheTtl", value => Seconds(value).ToString("c", CultureInfo.InvariantCulture)),
    ];

    /// <summary>
    /// Adds the translated value of every document variable that is set, unless its setting is given by a source that
    /// is not a settings file.
    /// </summary>
    public static void AddFallbacks(IConfigurationManager configuration)
    {
        var fallbacks = new Dictionary<string, string?>();
        foreach (var (variable, setting, translate) in Mappings)
        {
            if (ValueOf(configuration, variable) is not { Length: > 0 } value || GivenOutsideSettingsFiles(configuration, setting))
            {
                continue;
            }

            try
            {
                fallbacks[setting] = translate(value.Trim());
                if (setting == LogLevelSetting)
                {
                    RaiseFileCategoryLevels(configuration, fallbacks[setting]!, fallbacks);
                }
            }
            catch (FormatException ex)
            {
                throw new InvalidOperationException($"Environment variable {variable} is not valid: {ex.Message}", ex);
            }
        }

        if (fallbacks.Count > 0)
        {
            configuration.AddInMemoryCollection(fallbacks);
        }
    }

    private const string LogLevelSetting = "Logging:LogLevel:Default";

    /// <summary>
    /// A document variable's value. Document 001's <c>DEBUG_MODE=true</c> ("detailed logging") stands for
    /// <c>LOG_LEVEL=debug</c> when LOG_LEVEL itself is not set; an explicit LOG_LEVEL wins.
    /// </summary>
    private static string? ValueOf(IConfiguration configuration, string variable) =>
        variable == "LOG_LEVEL" && string.IsNullOrEmpty(configuration[variable]) && IsTrue(configuration["DEBUG_MODE"])
            ? "debug"
            : configuration[variable];

    private static bool IsTrue(string? value) =>
        value?.Trim().ToLowerInvariant() is "true" or "1" or "yes" or "on";

    /// <summary>
    /// Document 001's <c>ENVIRONMENT</c> (production, development, test) as the host's environment name (Production,
    /// Development, Test; any other value as given), which ASP.NET Core and OpenTelemetry's
    /// <c>deployment.environment.name</c> read. ASPNETCORE_ENVIRONMENT or DOTNET_ENVIRONMENT, when set, win.
    /// </summary>
    public static void ApplyEnvironmentName(IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT"))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT"))
            || builder.Configuration["ENVIRONMENT"] is not { Length: > 0 } value)
        {
            return;
        }

        builder.Environment.EnvironmentName = EnvironmentName(value);
    }

    /// <summary>
    /// The host environment name document 001's <c>ENVIRONMENT</c> variable asks for, or null when it is not set or
    /// ASPNETCORE_ENVIRONMENT / DOTNET_ENVIRONMENT is. Given to the builder when it is created
    /// (<c>WebApplicationOptions.EnvironmentName</c>): set afterwards, a web application's <c>IHostEnvironment</c> kept
    /// "Production" and <c>appsettings.Development.json</c> was never read.
    /// </summary>
    public static string? HostEnvironmentName() =>
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT"))
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT"))
            && Environment.GetEnvironmentVariable("ENVIRONMENT") is { Length: > 0 } value
            ? EnvironmentName(value)
            : null;

    /// <summary>The .NET spelling of a document's environment name.</summary>
    public static string EnvironmentName(string value) => value.Trim().ToLowerInvariant() switch
    {
        "production" or "prod" => Environments.Production,
        "development" or "dev" => Environments.Development,
        "staging" => Environments.Staging,
        "test" or "testing" => "Test",
        _ => value.Trim(),
    };

    private static TimeSpan Seconds(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0
            ? TimeSpan.FromSeconds(seconds)
            : throw new FormatException($"'{value}' is not a number of seconds");

    /// <summary>Whether the value that wins for <paramref name="setting"/> comes from a source other than a settings file.</summary>
    private static bool GivenOutsideSettingsFiles(IConfigurationManager configuration, string setting)
    {
        // The last source that has the key is the one whose value wins.
        foreach (var provider in ((IConfigurationRoot)configuration).Providers.Reverse())
        {
            if (provider.TryGet(setting, out var value) && !string.IsNullOrEmpty(value))
            {
                return provider is not FileConfigurationProvider;
            }
        }

        return false;
    }

    /// <summary>
    /// LOG_LEVEL is the level of every category, as uvicorn's is: a category the settings files set more verbose than
    /// it (the shipped Microsoft.Hosting.Lifetime: Information) is raised to it; quieter ones stay as they are.
    /// </summary>
    private static void RaiseFileCategoryLevels(IConfigurationManager configuration, string level, Dictionary<string, string?> fallbacks)
    {
        var wanted = Enum.Parse<LogLevel>(level);
        foreach (var category in configuration.GetSection("Logging:LogLevel").GetChildren())
        {
            if (category.Value is { } current && Enum.TryParse<LogLevel>(current, ignoreCase: true, out var currentLevel)
                && currentLevel < wanted && !GivenOutsideSettingsFiles(configuration, category.Path))
            {
                fallbacks[category.Path] = level;
            }
        }
    }

    /// <summary>
    /// <c>postgres://user:password@host:port/database?sslmode=require</c> (or <c>postgresql://</c>) as an Npgsql
    /// connection string; a value that is already a key=value connection string is kept.
    /// </summary>
    public static string PostgresUrlToConnectionString(string value)
    {
        if (!value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            && !value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return value;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException("expected postgres://user:password@host:port/database");
        }

        var builder = new StringBuilder();
        Append(builder, "Host", uri.Host);
        Append(builder, "Port", (uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port).ToString(CultureInfo.InvariantCulture));
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            Append(builder, "Database", database);
        }

        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            Append(builder, "Username", Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]));
            if (colon >= 0)
            {
                Append(builder, "Password", Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]));
            }
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var item = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            // libpq's sslmode values match Npgsql's SSL Mode names once capitalised (require -> Require).
            Append(builder, key.Equals("sslmode", StringComparison.OrdinalIgnoreCase) ? "SSL Mode" : key,
                key.Equals("sslmode", StringComparison.OrdinalIgnoreCase) ? SslMode(item) : item);
        }

        return builder.ToString();
    }

    private static string SslMode(string libpq) => libpq.ToLowerInvariant() switch
    {
        "disable" => "Disable",
        "allow" => "Allow",
        "prefer" => "Prefer",
        "require" => "Require",
        "verify-ca" => "VerifyCA",
        "verify-full" => "VerifyFull",
        _ => throw new FormatException($"unknown sslmode '{libpq}'"),
    };

    private static void Append(StringBuilder builder, string key, string value)
    {
        if (builder.Length > 0)
        {
            builder.Append(';');
        }

        // Quote values so ';' or '=' in a password cannot end the pair early.
        builder.Append(key).Append('=').Append('"').Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }

    private static int ParsePort(string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
            ? port
            : throw new FormatException($"'{value}' is not a TCP port");

    /// <summary>Python/uvicorn level names (debug, info, warning, error, critical) as .NET log levels.</summary>
    private static string ToLogLevel(string value) => value.ToLowerInvariant() switch
    {
        "trace" => "Trace",
        "debug" => "Debug",
        "info" or "information" => "Information",
        "warn" or "warning" => "Warning",
        "error" => "Error",
        "critical" or "fatal" => "Critical",
        "none" => "None",
        _ => throw new FormatException($"unknown log level '{value}' (use debug, info, warning, error or critical)"),
    };
}
