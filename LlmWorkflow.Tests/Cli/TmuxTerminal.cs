using System.Diagnostics;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// A real pseudo-terminal: a command in a detached tmux session of 120×40 on a private tmux server (its own socket,
/// so it starts with this process's environment and never touches a user's sessions). The pane is read with
/// <c>capture-pane</c>, which shows the screen as a person would see it.
/// </summary>
public sealed class TmuxTerminal : IDisposable
{
    private readonly string _socket = $"llmwf-tests-{Guid.NewGuid():N}";

    /// <summary>Prefix for a shell command that must run as on a fresh clone: no provider key in its environment.</summary>
    public const string WithoutProviderKeys = "unset OPENROUTER_API_KEY OPENAI_API_KEY ANTHROPIC_API_KEY; ";

    private TmuxTerminal()
    {
    }

    /// <summary>Starts <paramref name="shellCommand"/> in <paramref name="workingDirectory"/>; it prints EXIT=&lt;code&gt; when done and the pane stays.</summary>
    public static TmuxTerminal Start(string workingDirectory, string shellCommand)
    {
        var terminal = new TmuxTerminal();
        terminal.Tmux("new-session", "-d", "-s", "cli", "-x", "120", "-y", "40", "-c", workingDirectory, $"{shellCommand}; echo EXIT=$?; sleep 120");
        return terminal;
    }

    public string Capture() => Tmux("capture-pane", "-p", "-t", "cli");

    /// <summary>The whole pane, its scrolled-off history included.</summary>
    public string CaptureHistory() => Tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "cli");

    /// <summary>The process id of the pane's shell (the command's processes are its descendants).</summary>
    public int PanePid() => int.Parse(Tmux("display-message", "-p", "-t", "cli", "#{pane_pid}").Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Types <paramref name="text"/> literally (no key names), as a person would.</summary>
    public void Type(string text) => Tmux("send-keys", "-t", "cli", "-l", text);

    /// <summary>Presses named keys: Enter, Escape, Up, Down…</summary>
    public void Press(params string[] keys) => Tmux(["send-keys", "-t", "cli", .. keys]);

    /// <summary>Polls the screen until <paramref name="condition"/> holds; returns that screen (or fails with the last one).</summary>
    public async Task<string> WaitForScreenAsync(Func<string, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var screen = Capture();
        while (!condition(screen))
        {
            Assert.True(DateTime.UtcNow < deadline, $"The terminal did not show what was expected within {timeout}. Screen:\n{screen}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
            screen = Capture();
        }

        return screen;
    }

    public void Dispose() => Tmux("kill-server");

    private string Tmux(params string[] args)
    {
        var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-L");
        start.ArgumentList.Add(_socket);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }
}
