namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// The AppHost's terminal: every line is prefixed with the resource it came from (<c>[worker-1] ...</c>), coloured
/// per resource when the terminal supports it. Lines from many child processes arrive concurrently; each is written
/// whole.
/// </summary>
public sealed class ResourceConsole(TextWriter writer, bool useColor)
{
    /// <summary>The prefix of the AppHost's own messages.</summary>
    public const string AppHostName = "apphost";

    private const string Reset = "\e[0m";
    private static readonly string[] Palette = ["\e[36m", "\e[35m", "\e[33m", "\e[32m", "\e[34m", "\e[96m", "\e[95m", "\e[93m"];

    private readonly Lock _gate = new();
    private readonly Dictionary<string, string> _colours = [];

    /// <summary>The process's standard output, coloured unless redirected, <c>NO_COLOR</c> is set or the terminal is dumb.</summary>
    public static ResourceConsole ForTerminal() => new(
        Console.Out,
        useColor: !Console.IsOutputRedirected
            && Environment.GetEnvironmentVariable("NO_COLOR") is null
            && Environment.GetEnvironmentVariable("TERM") is not "dumb");

    /// <summary>Writes one line from a resource.</summary>
    public void WriteLine(string resource, string text)
    {
        lock (_gate)
        {
            if (useColor)
            {
                writer.WriteLine($"{ColourOf(resource)}[{resource}]{Reset} {text}");
            }
            else
            {
                writer.WriteLine($"[{resource}] {text}");
            }

            writer.Flush();
        }
    }

    /// <summary>Writes the AppHost's own message.</summary>
    public void Info(string text) => WriteLine(AppHostName, text);

    /// <summary>Writes a block (e.g. the resource table) without prefixes.</summary>
    public void WriteBlock(string text)
    {
        lock (_gate)
        {
            writer.Write(text);
            writer.Flush();
        }
    }

    private string ColourOf(string resource)
    {
        if (!_colours.TryGetValue(resource, out var colour))
        {
            colour = Palette[_colours.Count % Palette.Length];
            _colours[resource] = colour;
        }

        return colour;
    }
}
