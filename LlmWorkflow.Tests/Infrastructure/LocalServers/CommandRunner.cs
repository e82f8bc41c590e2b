using System.Diagnostics;
using System.Runtime.Versioning;

namespace LlmWorkflow.Tests.LocalServers;

/// <summary>Runs a short-lived command to completion and captures its output.</summary>
internal static class CommandRunner
{
    /// <summary>PostgreSQL refuses to run as root, and CI runs as root.</summary>
    [UnsupportedOSPlatformGuard("windows")]
    public static bool IsRoot => !OperatingSystem.IsWindows() && Environment.UserName == "root";

    /// <summary>Runs the program and returns its exit code with the combined stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string program, IEnumerable<string> arguments, bool asPostgresAccount, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // The postgres account cannot always enter our current directory.
            WorkingDirectory = "/",
        };
        if (asPostgresAccount && IsRoot)
        {
            startInfo.FileName = "runuser";
            foreach (var argument in (string[])["-u", LlmWorkflow.AppHost.LocalServerPrograms.PostgresAccount, "--", program])
            {
                startInfo.ArgumentList.Add(argument);
            }
        }
        else
        {
            startInfo.FileName = program;
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, (await stdout + await stderr).Trim());
    }

    /// <summary>Runs the program and throws with its output when it fails.</summary>
    public static async Task<string> RunCheckedAsync(
        string program, IEnumerable<string> arguments, bool asPostgresAccount, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await RunAsync(program, arguments, asPostgresAccount, cancellationToken);
        return exitCode == 0
            ? output
            : throw new InvalidOperationException($"{Path.GetFileName(program)} exited with code {exitCode}: {output}");
    }
}
