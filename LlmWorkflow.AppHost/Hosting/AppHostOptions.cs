using System.Globalization;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>The AppHost's command line: how many workers, which servers to use, where to keep data.</summary>
public sealed record AppHostOptions
{
    /// <summary>The text printed for <c>--help</c> and after a bad argument.</summary>
    public const string Usage = """
        Usage: dotnet run --project LlmWorkflow.AppHost -- [options]

          --workers <n>          worker processes to run (default 2)
          --api-port <port>      port of the API on 127.0.0.1 (default 5080)
          --postgres <connstr>   use this PostgreSQL instead of starting one (Npgsql form, database included)
          --redis <connstr>      use this Redis instead of starting one (host:port[,password=...])
          --data <dir>           where the local PostgreSQL and Redis keep their data (default <repo>/.data)
          --publisher manifest   write the Aspire manifest of the application model and exit (starts nothing)
          --output-path <file>   where --publisher writes (default aspire-manifest.json)
          --help                 show this text
        """;

    /// <summary>The one publisher: the Aspire manifest.</summary>
    public const string ManifestPublisherName = "manifest";

    /// <summary>Worker processes to run.</summary>
    public int Workers { get; init; } = 2;

    /// <summary>The API's port on 127.0.0.1.</summary>
    public int ApiPort { get; init; } = 5080;

    /// <summary>An existing PostgreSQL to use; null starts a local one.</summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>An existing Redis to use; null starts a local one.</summary>
    public string? RedisConnectionString { get; init; }

    /// <summary>Where local servers keep data; null means <c>.data</c> under the repository root.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The publisher to run instead of the application (<c>manifest</c>), or null to run it.</summary>
    public string? Publisher { get; init; }

    /// <summary>Where the publisher writes its output.</summary>
    public string OutputPath { get; init; } = "aspire-manifest.json";

    /// <summary>Whether <c>--help</c> was asked for.</summary>
    public bool ShowHelp { get; init; }

    /// <summary>Parses the arguments.</summary>
    /// <exception cref="ArgumentException">An option is unknown, lacks its value or has a bad one.</exception>
    public static AppHostOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new AppHostOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name is "--help" or "-h")
            {
                options = options with { ShowHelp = true };
                continue;
            }

            // Both "--workers 3" and "--workers=3".
            string? value = null;
            if (name.IndexOf('=', StringComparison.Ordinal) is var equals and > 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }

            if (value is null)
            {
                throw new ArgumentException($"{name} needs a value.");
            }

            options = name switch
            {
                "--workers" => options with { Workers = ParseNumber(name, value, minimum: 0, maximum: 64) },
                "--api-port" => options with { ApiPort = ParseNumber(name, value, minimum: 1, maximum: 65535) },
                "--postgres" => options with { PostgresConnectionString = value },
                "--redis" => options with { RedisConnectionString = value },
                "--data" => options with { DataDirectory = value },
                "--publisher" => value == ManifestPublisherName
                    ? options with { Publisher = value }
                    : throw new ArgumentException($"--publisher supports only '{ManifestPublisherName}', not '{value}'."),
                "--output-path" => options with { OutputPath = value },
                _ => throw new ArgumentException($"Unknown option {name}."),
            };
        }

        return options;
    }

    private static int ParseNumber(string name, string value, int minimum, int maximum) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= minimum && number <= maximum
            ? number
            : throw new ArgumentException($"{name} takes a number from {minimum} to {maximum}, not '{value}'.");
}
