using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LlmWorkflow.Tests.LocalServers;

/// <summary>Sends POSIX signals; .NET can only SIGKILL a child, and clean stops need SIGTERM.</summary>
internal static partial class UnixSignals
{
    /// <summary>Asks a process to terminate cleanly.</summary>
    public const int Terminate = 15;

    /// <summary>Freezes a process (it cannot catch this), as a stalled host or a long GC pause would (Linux's number).</summary>
    public const int Stop = 19;

    /// <summary>Resumes a process frozen with <see cref="Stop"/> (Linux's number).</summary>
    public const int Continue = 18;

    /// <summary>Sends <paramref name="signal"/> to the process; false when it no longer exists.</summary>
    public static bool Send(int processId, int signal) => Kill(processId, signal) == 0;

    /// <summary>
    /// Asks <paramref name="process"/> to terminate cleanly (SIGTERM) and waits up to <paramref name="timeout"/> for it
    /// to exit; false when it did not (the caller then kills it) or could not be signalled.
    /// </summary>
    public static async Task<bool> TerminateAsync(Process process, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!Send(process.Id, Terminate))
        {
            return false;
        }

        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(bounded.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>The conventional name of a signal number, for messages like "(signal KILL)".</summary>
    public static string Name(int signal) => signal switch
    {
        1 => "HUP",
        2 => "INT",
        3 => "QUIT",
        6 => "ABRT",
        9 => "KILL",
        11 => "SEGV",
        13 => "PIPE",
        15 => "TERM",
        18 => "CONT",
        19 => "STOP",
        _ => signal.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int sig);
}
