using System.Text;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Cli.Display;

/// <summary>
/// What a progress display knows about a run, built from its events in their wire form (the service's SSE
/// <c>data</c> payloads; local runs convert with <c>ProgressEventJson</c>), so <c>run</c> and <c>watch</c> show the same.
/// </summary>
internal sealed class RunProgress
{
    private readonly Dictionary<string, StepProgress> _byKey = new(StringComparer.Ordinal);

    public string? WorkflowName { get; private set; }

    public int Percent { get; private set; }

    /// <summary>Steps in the order they started.</summary>
    public List<StepProgress> Steps { get; } = [];

    /// <summary>The terminal event type (run_completed, run_failed, cancelled) once the run ended.</summary>
    public string? Outcome { get; private set; }

    public string? ErrorMessage { get; private set; }

    /// <summary>The step whose streamed LLM text arrived last (kept after it completes, so displays keep their height).</summary>
    public StepProgress? LastStreamed { get; private set; }

    public bool Finished => Outcome is not null;

    public void Apply(JsonObject e)
    {
        switch ((string?)e["type"])
        {
            case "run_started":
                WorkflowName = (string?)e["workflow_name"];
                break;
            case "step_started":
                var key = (string?)e["step_key"] ?? (string?)e["step_id"] ?? "?";
                if (!_byKey.TryGetValue(key, out var step))
                {
                    step = new StepProgress(key, (string?)e["display_name"] ?? key, (string?)e["parent_step_id"]);
                    _byKey[key] = step;
                    Steps.Add(step);
                }

                step.Status = "running";
                Percent = (int?)e["percent"] ?? Percent;
                break;
            case "step_completed":
                var completed = Find(e);
                completed.Status = (string?)e["status"] ?? "completed";
                completed.DurationMs = (double?)e["duration_ms"];
                completed.Model = (string?)e["model"];
                completed.InputTokens = (int?)e["input_tokens"];
                completed.OutputTokens = (int?)e["output_tokens"];
                completed.CostUsd = (decimal?)e["cost_usd"];
                completed.Error = (string?)e["error"]?["message"];
                Percent = (int?)e["percent"] ?? Percent;
                break;
            case "llm_delta":
                var streaming = Find(e);
                streaming.StreamedText.Append((string?)e["text"]);
                LastStreamed = streaming;
                break;
            case "run_completed":
                Outcome = "run_completed";
                Percent = 100;
                StopRunningSteps();
                break;
            case "run_failed" or "cancelled":
                Outcome = (bool?)e["cancelled"] == true ? "cancelled" : (string?)e["type"];
                ErrorMessage = (string?)e["error"]?["message"] ?? (string?)e["status"];
                StopRunningSteps();
                break;
        }
    }

    /// <summary>Steps interrupted by the end of the run (cancelled, timed out) get no step_completed; freeze them as stopped.</summary>
    private void StopRunningSteps()
    {
        foreach (var step in Steps.Where(s => s.Running))
        {
            step.Status = "stopped";
            step.DurationMs = (DateTime.UtcNow - step.SeenAtUtc).TotalMilliseconds;
        }
    }

    /// <summary>The step an event names; events for a step never seen started (a resumed stream) add it.</summary>
    private StepProgress Find(JsonObject e)
    {
        var key = (string?)e["step_key"] ?? (string?)e["step_id"] ?? "?";
        if (!_byKey.TryGetValue(key, out var step))
        {
            step = new StepProgress(key, (string?)e["display_name"] ?? key, (string?)e["parent_step_id"]) { Status = "running" };
            _byKey[key] = step;
            Steps.Add(step);
        }

        return step;
    }
}

/// <summary>One step's state in a <see cref="RunProgress"/>.</summary>
internal sealed class StepProgress(string key, string displayName, string? parentStepId)
{
    public string Key { get; } = key;

    public string DisplayName { get; } = displayName;

    public string? ParentStepId { get; } = parentStepId;

    /// <summary>running, completed, failed, skipped, continued_after_error, defaulted, or stopped (the run ended while it ran).</summary>
    public string Status { get; set; } = "running";

    public double? DurationMs { get; set; }

    public string? Model { get; set; }

    public int? InputTokens { get; set; }

    public int? OutputTokens { get; set; }

    public decimal? CostUsd { get; set; }

    public string? Error { get; set; }

    public StringBuilder StreamedText { get; } = new();

    /// <summary>When this display first heard of the step, for the elapsed time of running steps.</summary>
    public DateTime SeenAtUtc { get; } = DateTime.UtcNow;

    public bool Running => Status == "running";
}
