using System.Diagnostics;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>Runs a command line tool (dotnet publish, podman, skopeo, node clients) to completion and returns its output.</summary>
public static class ExternalCommand
{
    public static async Task<string> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null,
        bool allowFailure = false)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory ?? Directory.GetCurrentDirectory(),
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        await using var process = CapturedProcess.Start(start);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.Process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            await process.KillAsync();
            throw new TimeoutException($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish in {timeout.TotalSeconds:0} s:\n{process.Output}");
        }

        // WaitForExitAsync returns once the streams are drained, so the output is complete here.
        var text = process.Output;
        if (process.Process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', start.ArgumentList)} exited with {process.Process.ExitCode}:\n{text}");
        }

        return text;
    }

    /// <summary>
    /// A <c>dotnet</c> build command (publish, pack, build) at low CPU priority (nice 15) in MSBuild nodes of its own: a
    /// composite ReadyToRun compile takes both cores for minutes, and at normal priority it starved the time-bound parts
    /// of the classes running beside it (a sleep's wake-up once came 13.6 s late in CI); a reused build node would run
    /// it at its own priority. The rest of the suite gets the CPU first; the build the cores it leaves.
    /// </summary>
    /// <param name="niceness">15; the composite publish, which runs beside the other builds, takes 19, so they go first.</param>
    public static Task<string> RunBuildAsync(
        IEnumerable<string> dotnetArguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null,
        int niceness = 15)
    {
        var settings = new Dictionary<string, string>(environment ?? new Dictionary<string, string>()) { ["MSBUILDDISABLENODEREUSE"] = "1" };
        return RunAsync("nice", ["-n", niceness.ToString(System.Globalization.CultureInfo.InvariantCulture), "dotnet", .. dotnetArguments], timeout, settings, workingDirectory);
    }

    /// <summary>The build configuration the tests were built in (Debug in CI), read from the test assembly's path.</summary>
    public static string BuildConfiguration =>
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
}
