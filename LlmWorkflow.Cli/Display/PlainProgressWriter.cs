using System.Globalization;
using LlmWorkflow.Contracts;
using System.Threading.Channels;

namespace LlmWorkflow.Cli.Display;

/// <summary>
/// Progress for logs and pipes: one plain line per event, no cursor movement or colour, so CI logs stay readable.
/// Streamed LLM text is printed as a block when its step completes rather than as fragments.
/// </summary>
internal static class PlainProgressWriter
{
    public static async Task<RunProgress> WriteAsync(ChannelReader<LiveJobEvent> events, TextWriter output, CancellationToken cancellationToken)
    {
        var progress = new RunProgress();
        var stepErrors = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var e in events.ReadAllAsync(cancellationToken))
        {
            progress.Apply(e);
            if (e is StepCompletedEvent { Error: var error } && RunProgress.ErrorText(error) is { } stepError)
            {
                stepErrors.Add(stepError);
            }

            if (Line(e, progress, stepErrors) is { } line)
            {
                await output.WriteLineAsync(line);
            }

            if (e is StepCompletedEvent completed && progress.Steps.FirstOrDefault(s => s.Key == (completed.StepKey ?? completed.StepId)) is { StreamedText.Length: > 0 } streamed)
            {
                foreach (var textLine in streamed.StreamedText.ToString().Split('\n'))
                {
                    await output.WriteLineAsync($"    | {textLine}");
                }
            }
        }

        return progress;
    }

    /// <param name="stepErrors">Errors already printed on a step's line: the run's failure line then points at it instead of repeating it.</param>
    private static string? Line(LiveJobEvent e, RunProgress progress, HashSet<string> stepErrors) => e switch
    {
        RunStartedEvent started => $"run started: {progress.WorkflowName} ({started.TotalSteps} steps)",
        StepStartedEvent started => $"{Indent(started.ParentStepId)}[{started.Index + 1}/{started.Total}] {started.DisplayName} ({started.StepId}, {started.StepType}) started",
        StepCompletedEvent completed => $"{Indent(completed.ParentStepId)}[{progress.Percent,3}%] {completed.DisplayName} ({completed.StepId}) {completed.Status} in {Format.Duration(completed.DurationMs)}{Usage(completed)}{Error(completed)}",
        RunCompletedEvent completed => $"run completed: {completed.TotalTokens} tokens, {Format.Cost(completed.CostUsd, unpriced: false)}",
        RunWaitingEvent waiting => waiting.Event is { } name
            ? $"waiting at {waiting.StepId} for the \"{name}\" signal until {waiting.Until:u}"
            : $"sleeping at {waiting.StepId} until {waiting.Until:u}",
        RunFailedEvent or JobCancelledEvent => $"run {(progress.Outcome == "cancelled" ? "cancelled" : "failed")}"
            + (progress.ErrorMessage is { } message && stepErrors.Contains(message) ? " (the step's error is above)" : $": {progress.ErrorMessage}"),
        _ => null,
    };

    private static string Indent(string? parentStepId) => parentStepId is null ? "" : "  ";

    private static string Usage(StepCompletedEvent e) => e.Model is { } model
        ? string.Create(CultureInfo.InvariantCulture, $" [{model}, {e.InputTokens}+{e.OutputTokens} tokens, {Format.Cost(e.CostUsd, unpriced: true)}]")
        : "";

    private static string Error(StepCompletedEvent e) => RunProgress.ErrorText(e.Error) is { } message ? $": {message}" : "";
}
