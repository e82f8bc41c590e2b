using System.Diagnostics;
using System.Text.Json;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// Builds a project once and returns its assembly, so replicas start with <c>dotnet app.dll</c>: starting N copies
/// with <c>dotnet run</c> would build N times in parallel. MSBuild's incremental build makes a second start cheap.
/// </summary>
public static class ProjectBuild
{
    /// <summary>Builds the project in Debug (restoring first, as <c>dotnet build</c> does) and returns the built assembly's path.</summary>
    /// <exception cref="InvalidOperationException">The build failed; the message holds the compiler's errors.</exception>
    public static async Task<string> BuildAsync(string projectPath, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(projectPath)!,
        };
        // -getProperty alone only evaluates the project; with -getTargetResult:Build the Build target really runs and
        // stdout is one JSON document with the property and the target's result, while errors go to stderr.
        string[] arguments = ["build", projectPath, "-c", "Debug", "-nologo", "-getProperty:TargetPath", "-getTargetResult:Build"];
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("Could not run dotnet build.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var result = Parse(await output);
        if (process.ExitCode == 0 && result is { Succeeded: true, TargetPath: { } targetPath } && File.Exists(targetPath))
        {
            return targetPath;
        }

        var details = (await errors).Trim();
        throw new InvalidOperationException(
            $"Building {Path.GetFileName(projectPath)} failed (exit code {process.ExitCode}):\n{(details.Length > 0 ? details : (await output).Trim())}");
    }

    /// <summary>Reads the JSON MSBuild prints for <c>-getProperty</c> with <c>-getTargetResult</c>; null if it is not that.</summary>
    internal static (bool Succeeded, string? TargetPath)? Parse(string output)
    {
        try
        {
            using var document = JsonDocument.Parse(output);
            var root = document.RootElement;
            var targetPath = root.TryGetProperty("Properties", out var properties)
                && properties.TryGetProperty("TargetPath", out var path) ? path.GetString() : null;
            var succeeded = root.TryGetProperty("TargetResults", out var targets)
                && targets.TryGetProperty("Build", out var build)
                && build.TryGetProperty("Result", out var outcome)
                && outcome.GetString() == "Success";
            return (succeeded, string.IsNullOrEmpty(targetPath) ? null : targetPath);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
