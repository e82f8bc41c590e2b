using System.Globalization;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>Describes how a child process ended, in words an operator reads at a glance.</summary>
public static class ExitDescription
{
    // On Unix .NET reports a child killed by signal N as exit code 128 + N, as shells do.
    private const int SignalBase = 128;
    private const int HighestSignal = 64;

    /// <summary>E.g. <c>code 137 (signal KILL)</c> or <c>code 3</c>.</summary>
    public static string Describe(int exitCode) =>
        exitCode is > SignalBase and <= SignalBase + HighestSignal
            ? $"code {exitCode.ToString(CultureInfo.InvariantCulture)} (signal {UnixSignals.Name(exitCode - SignalBase)})"
            : $"code {exitCode.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The line printed when a child ends without being asked to.</summary>
    public static string Unexpected(string name, int exitCode) => $"{name} exited unexpectedly with {Describe(exitCode)}";
}
