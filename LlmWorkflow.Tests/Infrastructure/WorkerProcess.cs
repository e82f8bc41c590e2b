using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// The real Worker as a separate OS process, so tests can kill it with SIGKILL the way a crash or an OOM kill would.
/// Settings become environment variables (<c>A:B</c> → <c>A__B</c>).
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private WorkerProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public string Output => string.Join('\n', _output);

    /// <param name="published">A publish output folder: start its apphost from <paramref name="workingDirectory"/>, as an
    /// image's entrypoint does, instead of the test build's worker through <c>dotnet</c>.</param>
    public static async Task<WorkerProcess> StartAsync(
        IReadOnlyDictionary<string, string?> settings, TimeSpan? readyTimeout = null, string? published = null, string? workingDirectory = null)
    {
        var start = published is null
            ? new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "LlmWorkflow.Worker.dll")])
            : new ProcessStartInfo(Path.Combine(published, "LlmWorkflow.Worker"));
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.WorkingDirectory = workingDirectory ?? RepositoryPaths.Root;
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Testing";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        var worker = new WorkerProcess(Process.Start(start)!);
        worker._process.OutputDataReceived += (_, e) => { if (e.Data is not null) { worker._output.Enqueue(e.Data); } };
        worker._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { worker._output.Enqueue(e.Data); } };
        worker._process.BeginOutputReadLine();
        worker._process.BeginErrorReadLine();

        // A bound on a hung start, not a speed check: a loaded CI machine can take a minute to JIT and migrate.
        var deadline = DateTime.UtcNow + (readyTimeout ?? TimeSpan.FromMinutes(3));
        while (!worker._output.Any(l => l.Contains("Worker started", StringComparison.Ordinal)))
        {
            if (worker._process.HasExited || DateTime.UtcNow > deadline)
            {
                // Not left running after the test gives up on it (it would hold ports and CPU for the rest of the run).
                worker._process.Kill(entireProcessTree: true);
                throw new InvalidOperationException("The worker process did not start:\n" + worker.Output);
            }

            await Task.Delay(100);
        }

        return worker;
    }

    /// <summary>SIGKILL: no drain, no lease release, no ack — exactly a crash.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }
}
