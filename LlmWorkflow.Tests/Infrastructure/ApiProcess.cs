using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// The real API as a separate OS process on 127.0.0.1 (a free port Kestrel picks), for tests that need what one
/// process does on its own, e.g. its OpenTelemetry exports. Settings become environment variables (<c>A:B</c> → <c>A__B</c>).
/// </summary>
public sealed partial class ApiProcess : IAsyncDisposable
{
    private readonly CapturedProcess _process;

    private ApiProcess(CapturedProcess process, Uri baseAddress) => (_process, BaseAddress) = (process, baseAddress);

    /// <summary>Where the API listens, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; }

    public string Output => _process.Output;

    public static async Task<ApiProcess> StartAsync(IReadOnlyDictionary<string, string?> settings, TimeSpan? readyTimeout = null)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "LlmWorkflow.Api.dll")])
        {
            WorkingDirectory = RepositoryPaths.Root,
        };
        // A setting given as null removes the variable (ASPNETCORE_ENVIRONMENT: to start with the document's ENVIRONMENT).
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        start.Environment.Remove("DOTNET_ENVIRONMENT");
        foreach (var (key, value) in settings)
        {
            if (value is null)
            {
                start.Environment.Remove(key.Replace(":", "__", StringComparison.Ordinal));
                continue;
            }

            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        var process = CapturedProcess.Start(start);
        try
        {
            // A bound on a hung start, not a speed check: a loaded CI machine can take a minute to JIT and migrate.
            var listening = await process.WaitForLineAsync(l => Listening().IsMatch(l), readyTimeout ?? TimeSpan.FromMinutes(3), "The API process did not start");
            return new ApiProcess(process, new Uri(Listening().Match(listening).Groups[1].Value.TrimEnd('/') + "/"));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the process prints a line containing <paramref name="text"/>.</summary>
    public Task<string> WaitForOutputAsync(string text, TimeSpan timeout) =>
        _process.WaitForLineAsync(line => line.Contains(text, StringComparison.Ordinal), timeout, $"The API printed no '{text}'");

    /// <summary>A plain HTTP client with the caller key (or the admin key).</summary>
    public HttpClient CreateClient(bool admin = false)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        client.DefaultRequestHeaders.Add("X-API-Key", admin ? TestEnvironment.AdminKey : TestEnvironment.CallerKey);
        return client;
    }

    /// <summary>SIGTERM, then up to 30 s for the host's graceful shutdown.</summary>
    public Task StopAsync() => _process.StopAsync(TimeSpan.FromSeconds(30));

    /// <summary>SIGKILL: no drain, no graceful shutdown — exactly a crash.</summary>
    public Task KillAsync() => _process.KillAsync();

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex Listening();
}
