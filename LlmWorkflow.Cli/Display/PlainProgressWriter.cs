using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace LlmWorkflow.Cli.Display;

/// <summary>
/// Progress for logs and pipes: one plain line per event, no cursor movement or colour, so CI logs stay readable.
/// Streamed LLM text is printed as a block when its step completes rather than as fragments.
/// </summary>
internal static class PlainProgressWriter
{
    public static async Task<RunProgress> WriteAsync(ChannelReader<JsonObject> events, TextWriter output, CancellationToken cancellationToken)
    {
        var progress = new RunProgress();
        var stepErrors = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var e in events.ReadAllAsync(cancellationToken))
        {
            progress.Apply(e);
            if ((string?)e["type"] == "step_completed" && (string?)e["error"]?["message"] is { } stepError)
            {
                stepErrors.Add(stepError);
            }

            if (Line(e, progress, stepErrors) is { } line)
            {
                await output.WriteLineAsync(line);
            }

            if ((string?)e["type"] == "step_completed" && progress.Steps.FirstOrDefault(s => s.Key == ((string?)e["step_key"] ?? (string?)e["step_id"])) is { StreamedText.Length: > 0 } streamed)
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
    private static string? Line(JsonObject e, RunProgress progress, HashSet<string> stepErrors)
    {
        var indent = e["parent_step_id"] is null ? "" : "  ";
        return (string?)e["type"] switch
        {
            "run_started" => $"run started: {progress.WorkflowName} ({(int?)e["total_steps"]} steps)",
            "step_started" => $"{indent}[{(int?)e["index"] + 1}/{(int?)e["total"]}] {(string?)e["display_name"]} ({(string?)e["step_id"]}, {(string?)e["step_type"]}) started",
            "step_completed" => $"{indent}[{progress.Percent,3}%] {(string?)e["display_name"]} ({(string?)e["step_id"]}) {(string?)e["status"]} in {Format.Duration((double?)e["duration_ms"])}{Usage(e)}{Error(e)}",
            "run_completed" => $"run completed: {(int?)e["total_tokens"] ?? 0} tokens, {Format.Cost((decimal?)e["cost_usd"], unpriced: false)}",
            "run_failed" or "cancelled" => $"run {(progress.Outcome == "cancelled" ? "cancelled" : "failed")}"
                + (progress.ErrorMessage is { } message && stepErrors.Contains(message) ? " (the step's error is above)" : $": {progress.ErrorMessage}"),
            _ => null,
        };
    }

    private static string Usage(JsonObject e) => (string?)e["model"] is { } model
        ? string.Create(CultureInfo.InvariantCulture, $" [{model}, {(int?)e["input_tokens"]}+{(int?)e["output_tokens"]} tokens, {Format.Cost((decimal?)e["cost_usd"], unpriced: true)}]")
        : "";

    private static string Error(JsonObject e) => (string?)e["error"]?["message"] is { } message ? $": {message}" : "";
}
