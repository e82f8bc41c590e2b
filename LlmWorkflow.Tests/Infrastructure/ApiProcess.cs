using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// The real API as a separate OS process on 127.0.0.1 (a free port Kestrel picks), for tests that need what one
/// process does on its own, e.g. its OpenTelemetry exports. Settings become environment variables (<c>A:B</c> → <c>A__B</c>).
/// </summary>
public sealed partial class ApiProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ApiProcess(Process process) => _process = process;

    /// <summary>Where the API listens, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public string Output => string.Join('\n', _output);

    public static async Task<ApiProcess> StartAsync(IReadOnlyDictionary<string, string?> settings, TimeSpan? readyTimeout = null)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "LlmWorkflow.Api.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryPaths.Root,
        };
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        var api = new ApiProcess(Process.Start(start)!);
        api._process.OutputDataReceived += (_, e) => { if (e.Data is not null) { api._output.Enqueue(e.Data); } };
        api._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { api._output.Enqueue(e.Data); } };
        api._process.BeginOutputReadLine();
        api._process.BeginErrorReadLine();

        // A bound on a hung start, not a speed check: a loaded CI machine can take a minute to JIT and migrate.
        var deadline = DateTime.UtcNow + (readyTimeout ?? TimeSpan.FromMinutes(3));
        Match? listening;
        while ((listening = api._output.Select(l => Listening().Match(l)).FirstOrDefault(m => m.Success)) is null)
        {
            if (api._process.HasExited || DateTime.UtcNow > deadline)
            {
                // Not left running after the test gives up on it (it would hold ports and CPU for the rest of the run).
                api._process.Kill(entireProcessTree: true);
                throw new InvalidOperationException("The API process did not start:\n" + api.Output);
            }

            await Task.Delay(100);
        }

        api.BaseAddress = new Uri(listening.Groups[1].Value.TrimEnd('/') + "/");
        return api;
    }

    /// <summary>A plain HTTP client with the caller key (or the admin key).</summary>
    public HttpClient CreateClient(bool admin = false)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        client.DefaultRequestHeaders.Add("X-API-Key", admin ? TestEnvironment.AdminKey : TestEnvironment.CallerKey);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex Listening();
}
