using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// A child process whose standard output and error lines are collected as they arrive. Both streams are always read,
/// so a chatty child never blocks on a full pipe, and a failure message can show what the child said. Disposing kills
/// the child (and its own children) if it still runs: a test that gives up must not leave ports and CPU taken.
/// </summary>
public sealed class CapturedProcess : IAsyncDisposable
{
    /// <summary>How many of the last lines a failure message quotes.</summary>
    private const int QuotedLines = 200;

    private readonly ConcurrentQueue<string> _lines = new();

    private CapturedProcess(Process process) => Process = process;

    public Process Process { get; }

    /// <summary>Every line so far, from both streams, in arrival order.</summary>
    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>Every line so far, joined by newlines.</summary>
    public string Output => string.Join('\n', _lines);

    /// <summary>Starts <paramref name="start"/> with both of its streams redirected into <see cref="Lines"/>.</summary>
    public static CapturedProcess Start(ProcessStartInfo start)
    {
        TestKindGuard.RefuseInUnitTest($"it starts the process {start.FileName}");
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var captured = new CapturedProcess(new Process { StartInfo = start });
        captured.Process.OutputDataReceived += captured.Collect;
        captured.Process.ErrorDataReceived += captured.Collect;
        captured.Process.Start();
        captured.Process.BeginOutputReadLine();
        captured.Process.BeginErrorReadLine();
        return captured;
    }

    /// <summary>
    /// Waits for the first line <paramref name="matches"/> accepts and returns it. Throws with the output so far when
    /// the child exits first or <paramref name="timeout"/> (a bound on a hung child, not a speed check) passes.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> matches, TimeSpan timeout, string waitingFor)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_lines.FirstOrDefault(matches) is { } line)
            {
                return line;
            }

            if (Process.HasExited)
            {
                // Its last lines may still be on their way: WaitForExitAsync returns once both streams are drained.
                await Process.WaitForExitAsync();
                return _lines.FirstOrDefault(matches)
                    ?? throw new InvalidOperationException($"{waitingFor}: the process exited with {Process.ExitCode} first:\n{Tail()}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{waitingFor}: not within {timeout.TotalSeconds:0} s:\n{Tail()}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>The last lines, for a failure message.</summary>
    public string Tail() => string.Join('\n', _lines.TakeLast(QuotedLines));

    /// <summary>
    /// Stops the child as a platform does (SIGTERM), so it shuts down and flushes what it writes; kills it when it has
    /// not exited within <paramref name="timeout"/>.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (!Process.HasExited)
        {
            await LocalServers.UnixSignals.TerminateAsync(Process, timeout);
        }

        await KillAsync();
    }

    /// <summary>Kills the child and its own children, if still running, and waits for it to go.</summary>
    public async Task KillAsync()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
        }

        await Process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Process.Dispose();
    }

    private void Collect(object sender, DataReceivedEventArgs e)
    {
        if (e.Data is not null)
        {
            _lines.Enqueue(e.Data);
        }
    }
}
