using System.Diagnostics;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// Builds a project once and returns its assembly, so replicas start with <c>dotnet app.dll</c>: starting N copies
/// with <c>dotnet run</c> would build N times in parallel.
/// </summary>
public static class ProjectBuild
{
    /// <summary>Builds the project in Debug and returns the built assembly's path.</summary>
    /// <exception cref="InvalidOperationException">The build failed; the message holds its output.</exception>
    public static async Task<string> BuildAsync(string projectPath, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(projectPath)!,
        };
        // With -getProperty the build prints only the property's value on success, and its errors otherwise.
        foreach (var argument in (string[])["build", projectPath, "-c", "Debug", "-nologo", "-getProperty:TargetPath"])
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("Could not run dotnet build.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var targetPath = (await output).Trim();
        return process.ExitCode == 0 && File.Exists(targetPath)
            ? targetPath
            : throw new InvalidOperationException(
                $"Building {Path.GetFileName(projectPath)} failed (exit code {process.ExitCode}):\n{targetPath}\n{await errors}".TrimEnd());
    }
}
