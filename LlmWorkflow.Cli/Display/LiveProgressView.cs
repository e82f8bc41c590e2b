using LlmWorkflow.Contracts;
using System.Threading.Channels;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace LlmWorkflow.Cli.Display;

/// <summary>
/// Progress on a terminal: an overall bar, a bar per step (indeterminate while running) with duration and cost,
/// and the tail of the LLM text streaming now. Redrawn in place; the last frame stays on screen when the run ends.
/// </summary>
internal static class LiveProgressView
{
    private const int BarWidth = 24;
    private const int StreamLines = 8;
    private static readonly string[] Spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    public static async Task<RunProgress> ShowAsync(ChannelReader<LiveJobEvent> events, IAnsiConsole console, string title, CancellationToken cancellationToken)
    {
        var progress = new RunProgress();
        var frame = 0;
        await console.Live(Render(progress, title, frame, console.Profile.Width))
            .AutoClear(false)
            .Overflow(VerticalOverflow.Crop)
            .StartAsync(async context =>
            {
                var more = events.WaitToReadAsync(cancellationToken).AsTask();
                while (true)
                {
                    // Wake for events and on a tick, so spinners and elapsed times move during long LLM calls.
                    if (await Task.WhenAny(more, Task.Delay(Tick, cancellationToken)) == more)
                    {
                        if (!await more)
                        {
                            break;
                        }

                        while (events.TryRead(out var e))
                        {
                            progress.Apply(e);
                        }

                        more = events.WaitToReadAsync(cancellationToken).AsTask();
                    }

                    context.UpdateTarget(Render(progress, title, ++frame, console.Profile.Width));
                }

                context.UpdateTarget(Render(progress, title, frame, console.Profile.Width));
            });
        return progress;
    }

    private static IRenderable Render(RunProgress progress, string title, int frame, int width)
    {
        var header = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn().AddColumn(new GridColumn().RightAligned());
        header.AddRow(
            new Markup($"[bold]{Markup.Escape(progress.WorkflowName ?? title)}[/]"),
            new Markup(Bar(progress.Percent, progress.Finished ? OutcomeColour(progress.Outcome) : "blue")),
            new Markup($"{progress.Percent,3}% {Outcome(progress)}"));

        var steps = new Grid()
            .AddColumn(new GridColumn().NoWrap())
            .AddColumn(new GridColumn().NoWrap())
            .AddColumn(new GridColumn().NoWrap())
            .AddColumn(new GridColumn().NoWrap().RightAligned())
            .AddColumn(new GridColumn().NoWrap().RightAligned());
        foreach (var step in progress.Steps)
        {
            var indent = step.ParentStepId is null ? "" : "  ";
            steps.AddRow(
                new Markup(Icon(step, frame)),
                new Markup(indent + Markup.Escape(step.DisplayName)),
                new Markup(step.Running ? RunningBar(frame) : Bar(100, StatusColour(step.Status))),
                new Markup(step.Running ? Format.Duration((DateTime.UtcNow - step.SeenAtUtc).TotalMilliseconds) : Format.Duration(step.DurationMs)),
                new Markup(step.Model is null ? "" : Markup.Escape(Format.Cost(step.CostUsd, unpriced: true))));
        }

        // Never a one-line frame: Spectre moves the cursor up height-1 lines with CSI <n>A, and terminals read
        // CSI 0A as one line up, so a one-line first frame would overwrite the line printed before the display.
        var rows = new List<IRenderable> { header, progress.Steps.Count > 0 ? steps : new Markup("[grey]waiting for the first step…[/]") };
        if (progress.LastStreamed is { } streamed)
        {
            rows.Add(new Panel(new Text(StreamTail(streamed.StreamedText.ToString(), width - 4)))
            {
                Header = new PanelHeader($" {Markup.Escape(streamed.DisplayName)} "),
            }.Expand());
        }

        if (progress.Finished && progress.ErrorMessage is { } error)
        {
            rows.Add(new Markup($"[red]{Markup.Escape(error)}[/]"));
        }

        return new Rows(rows);
    }

    /// <summary>
    /// The last <see cref="StreamLines"/> lines of the text, wrapped to <paramref name="width"/> and padded, so the
    /// panel keeps one height: a live display never shrinks, and a shrinking frame would leave blank lines behind.
    /// </summary>
    private static string StreamTail(string text, int width)
    {
        var lines = text.Replace("\r", "").Split('\n')
            .SelectMany(line => line.Length == 0 ? [""] : line.Chunk(Math.Max(width, 10)).Select(chunk => new string(chunk)))
            .TakeLast(StreamLines)
            .ToList();
        lines.AddRange(Enumerable.Repeat("", StreamLines - lines.Count));
        return string.Join('\n', lines);
    }

    private static string Icon(StepProgress step, int frame) => step.Status switch
    {
        "running" => $"[blue]{Spinner[frame % Spinner.Length]}[/]",
        "completed" => "[green]✔[/]",
        "failed" => "[red]✘[/]",
        "skipped" => "[grey]-[/]",
        "stopped" => "[yellow]■[/]",
        _ => "[yellow]![/]",
    };

    private static string Bar(int percent, string colour)
    {
        var filled = Math.Clamp(percent, 0, 100) * BarWidth / 100;
        return $"[{colour}]{new string('━', filled)}[/][grey23]{new string('━', BarWidth - filled)}[/]";
    }

    /// <summary>An indeterminate bar: a short segment sweeping across.</summary>
    private static string RunningBar(int frame)
    {
        const int segment = 6;
        var start = frame % (BarWidth + segment) - segment;
        var cells = Enumerable.Range(0, BarWidth).Select(i => i >= start && i < start + segment).ToArray();
        return string.Concat(cells.Select(lit => lit ? "[blue]━[/]" : "[grey23]━[/]"));
    }

    private static string StatusColour(string status) => status switch
    {
        "completed" => "green",
        "failed" => "red",
        "skipped" => "grey",
        _ => "yellow",
    };

    private static string OutcomeColour(string? outcome) => outcome == "run_completed" ? "green" : "red";

    private static string Outcome(RunProgress progress) => progress.Outcome switch
    {
        "run_completed" => "[green]completed[/]",
        "cancelled" => "[yellow]cancelled[/]",
        null => "",
        _ => "[red]failed[/]",
    };
}
