using System.Globalization;

namespace LlmWorkflow.AppHost;

/// <summary>Where postgres and redis run: Aspire's containers, or the machine's own server binaries.</summary>
public enum InfrastructureMode
{
    /// <summary>Decide at start: containers when a container runtime answers, local binaries otherwise.</summary>
    Auto,

    /// <summary><c>AddPostgres</c>/<c>AddRedis</c> containers with data volumes.</summary>
    Containers,

    /// <summary>postgres and redis-server from the local binaries, as executable resources.</summary>
    Local,
}

/// <summary>
/// The AppHost's own settings, from configuration: <c>--workers 3</c>, <c>--api-port 5090</c>, <c>--data dir</c>
/// (command-line keys, as before), <c>AppHost:Infrastructure</c> (<c>containers</c>, <c>local</c> or <c>auto</c>;
/// also <c>--AppHost:Infrastructure local</c> or the environment variable <c>AppHost__Infrastructure</c>) and
/// <c>AppHost:Proxied</c> (<c>true</c> puts the orchestrator's proxy in front of postgres, redis and the api; off by
/// default, kept to measure it again: README, "The orchestrator's proxy").
/// </summary>
public sealed record AppHostSettings(int Workers, int ApiPort, string DataDirectory, InfrastructureMode Infrastructure, bool Proxied)
{
    /// <summary>Reads and checks the settings; a bad value stops the AppHost with a message naming the setting.</summary>
    public static AppHostSettings From(IConfiguration configuration)
    {
        var workers = Number(configuration, "workers", 2, minimum: 0, maximum: 64);
        var apiPort = Number(configuration, "api-port", 5080, minimum: 1, maximum: 65535);
        var data = Path.GetFullPath(configuration["data"] ?? Path.Combine(RepositoryRoot(), ".data"));
        var mode = configuration["AppHost:Infrastructure"] is { Length: > 0 } text
            ? Enum.TryParse<InfrastructureMode>(text, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)
                ? parsed
                : throw new ArgumentException($"AppHost:Infrastructure is 'containers', 'local' or 'auto', not '{text}'.")
            : InfrastructureMode.Auto;
        var proxied = configuration["AppHost:Proxied"] is { Length: > 0 } flag
            && (bool.TryParse(flag, out var parsedFlag)
                ? parsedFlag
                : throw new ArgumentException($"AppHost:Proxied is 'true' or 'false', not '{flag}'."));
        return new(workers, apiPort, data, mode, proxied);
    }

    private static int Number(IConfiguration configuration, string key, int defaultValue, int minimum, int maximum) =>
        configuration[key] is not { } text
            ? defaultValue
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= minimum && value <= maximum
                ? value
                : throw new ArgumentException($"--{key} takes a number from {minimum} to {maximum}, not '{text}'.");

    // The data of the local servers belongs to the checkout (<repo>/.data, git-ignored), whichever directory runs us.
    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LlmWorkflow.sln")))
            {
                return directory.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
