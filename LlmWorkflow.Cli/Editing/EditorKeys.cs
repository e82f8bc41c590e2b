using Spectre.Console;
using Spectre.Console.Rendering;

namespace LlmWorkflow.Cli.Editing;

/// <summary>The keys that leave whatever prompt is open: Esc closes it, Ctrl+C asks to quit.</summary>
internal enum EditorKey
{
    Escape,
    CtrlC,
}

/// <summary>Thrown out of any open prompt when the author presses <see cref="EditorKey.Escape"/> or <see cref="EditorKey.CtrlC"/>.</summary>
internal sealed class EditorInterrupt(EditorKey key) : Exception($"{key} pressed")
{
    public EditorKey Key { get; } = key;
}

/// <summary>
/// The editor's console: the terminal's, with input that turns Esc and Ctrl+C into <see cref="EditorInterrupt"/>.
/// Spectre's prompts ignore both keys, and Ctrl+C would otherwise end the process with the edits unsaved; with
/// <see cref="Console.TreatControlCAsInput"/> set it arrives as a key, so the editor can ask first.
/// </summary>
internal sealed class EditorConsole(IAnsiConsole inner) : IAnsiConsole
{
    private readonly InterruptingInput _input = new(inner.Input);

    public Profile Profile => inner.Profile;

    public IAnsiConsoleCursor Cursor => inner.Cursor;

    public IAnsiConsoleInput Input => _input;

    public IExclusivityMode ExclusivityMode => inner.ExclusivityMode;

    public RenderPipeline Pipeline => inner.Pipeline;

    public void Clear(bool home) => inner.Clear(home);

    public void Write(IRenderable renderable) => inner.Write(renderable);

    private sealed class InterruptingInput(IAnsiConsoleInput keys) : IAnsiConsoleInput
    {
        public bool IsKeyAvailable() => keys.IsKeyAvailable();

        public ConsoleKeyInfo? ReadKey(bool intercept) => Check(keys.ReadKey(intercept));

        public async Task<ConsoleKeyInfo?> ReadKeyAsync(bool intercept, CancellationToken cancellationToken) =>
            Check(await keys.ReadKeyAsync(intercept, cancellationToken));

        private static ConsoleKeyInfo? Check(ConsoleKeyInfo? key) => key switch
        {
            { Key: ConsoleKey.Escape } => throw new EditorInterrupt(EditorKey.Escape),
            { KeyChar: '\x03' } or { Key: ConsoleKey.C, Modifiers: ConsoleModifiers.Control } => throw new EditorInterrupt(EditorKey.CtrlC),
            _ => key,
        };
    }
}
