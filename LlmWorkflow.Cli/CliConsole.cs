using Spectre.Console;

namespace LlmWorkflow.Cli;

/// <summary>
/// Everything a command touches outside itself: the output and error writers, whether the output is an interactive
/// terminal, the environment, the working directory and (for tests) the HTTP handler used to reach the service.
/// </summary>
public sealed class CliConsole
{
    private const int RedirectedWidth = 140;

    public required TextWriter Out { get; init; }

    public required TextWriter Error { get; init; }

    /// <summary>True on a terminal: live progress display and colours; false when redirected (CI logs, pipes, tests).</summary>
    public bool Interactive { get; init; }

    public string WorkingDirectory { get; init; } = Directory.GetCurrentDirectory();

    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>Replaces the network for service commands (tests pass an in-process server's handler).</summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>Spectre console over <see cref="Out"/>: ANSI and live rendering only when interactive.</summary>
    public IAnsiConsole Ansi => field ??= CreateAnsi();

    public static CliConsole FromSystem() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        Interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive,
    };

    private IAnsiConsole CreateAnsi()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Out),
            Ansi = Interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = Interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = Interactive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!Interactive)
        {
            // Redirected output has no width; 80 columns would wrap tables in CI logs.
            console.Profile.Width = RedirectedWidth;
        }

        return console;
    }

    /// <summary>A path as the user typed it, made absolute against <see cref="WorkingDirectory"/>.</summary>
    public string FullPath(string path) => Path.GetFullPath(path, WorkingDirectory);

    /// <summary>A path shown relative to the working directory when it lies below it (shorter, clickable in terminals).</summary>
    public string DisplayPath(string fullPath)
    {
        var relative = Path.GetRelativePath(WorkingDirectory, fullPath);
        return relative.StartsWith("..", StringComparison.Ordinal) ? fullPath : relative;
    }
}
