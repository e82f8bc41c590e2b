using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;

namespace LlmWorkflow.Cli.Display;

/// <summary>
/// What a progress display knows about a run, built from its events as the shared wire records (the service's SSE
/// <c>data</c> payloads; local runs convert with <c>ProgressEventJson.ToWire</c>), so <c>run</c> and <c>watch</c> show the same.
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

    public void Apply(LiveJobEvent e)
    {
        switch (e)
        {
            case RunStartedEvent started:
                WorkflowName = started.WorkflowName;
                break;
            case StepStartedEvent started:
                var step = Find(started.StepKey ?? started.StepId, started.DisplayName, started.ParentStepId);
                step.Status = "running";
                Percent = started.Percent;
                break;
            case StepCompletedEvent completed:
                var done = Find(completed.StepKey ?? completed.StepId, completed.DisplayName, completed.ParentStepId);
                done.Status = completed.Status ?? "completed";
                done.DurationMs = completed.DurationMs;
                done.Model = completed.Model;
                done.InputTokens = completed.InputTokens;
                done.OutputTokens = completed.OutputTokens;
                done.CostUsd = completed.CostUsd;
                done.Error = ErrorText(completed.Error);
                Percent = completed.Percent;
                break;
            case LlmDeltaEvent delta:
                var streaming = Find(delta.StepId, null, null);
                streaming.StreamedText.Append(delta.Text);
                LastStreamed = streaming;
                break;
            case RunCompletedEvent:
                Outcome = LiveEventTypes.RunCompleted;
                Percent = 100;
                StopRunningSteps();
                break;
            case RunFailedEvent failed:
                Outcome = failed.Cancelled ? LiveEventTypes.Cancelled : LiveEventTypes.RunFailed;
                ErrorMessage = ErrorText(failed.Error) ?? failed.Status;
                StopRunningSteps();
                break;
            case JobCancelledEvent cancelled:
                Outcome = LiveEventTypes.Cancelled;
                ErrorMessage = ErrorText(cancelled.Error) ?? cancelled.Status;
                StopRunningSteps();
                break;
        }
    }

    /// <summary>The message of an event's structured error (a dynamic part of the record).</summary>
    public static string? ErrorText(JsonNode? error) => (string?)error?["message"];

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
    private StepProgress Find(string? key, string? displayName, string? parentStepId)
    {
        key ??= "?";
        if (!_byKey.TryGetValue(key, out var step))
        {
            step = new StepProgress(key, displayName ?? key, parentStepId) { Status = "running" };
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
