using System.Diagnostics;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// The real Worker as a separate OS process, so tests can kill it with SIGKILL the way a crash or an OOM kill would.
/// Settings become environment variables (<c>A:B</c> → <c>A__B</c>).
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly CapturedProcess _process;

    private WorkerProcess(CapturedProcess process) => _process = process;

    public int Id => _process.Process.Id;

    public string Output => _process.Output;

    /// <param name="published">A publish output folder: start its apphost from <paramref name="workingDirectory"/>, as an
    /// image's entrypoint does, instead of the test build's worker through <c>dotnet</c>.</param>
    public static async Task<WorkerProcess> StartAsync(
        IReadOnlyDictionary<string, string?> settings, TimeSpan? readyTimeout = null, string? published = null, string? workingDirectory = null)
    {
        var start = published is null
            ? new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "LlmWorkflow.Worker.dll")])
            : new ProcessStartInfo(Path.Combine(published, "LlmWorkflow.Worker"));
        start.WorkingDirectory = workingDirectory ?? RepositoryPaths.Root;
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Testing";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        var process = CapturedProcess.Start(start);
        try
        {
            // A bound on a hung start, not a speed check: a loaded CI machine can take a minute to JIT and migrate.
            await process.WaitForLineAsync(l => l.Contains("Worker started", StringComparison.Ordinal), readyTimeout ?? TimeSpan.FromMinutes(3), "The worker process did not start");
            return new WorkerProcess(process);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGTERM, then up to 30 s for the host's graceful shutdown.</summary>
    public Task StopAsync() => _process.StopAsync(TimeSpan.FromSeconds(30));

    /// <summary>SIGKILL: no drain, no lease release, no ack — exactly a crash.</summary>
    public Task KillAsync() => _process.KillAsync();

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
