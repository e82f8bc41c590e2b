using System.Text.Json;
using LlmWorkflow.Contracts;
using LlmWorkflow.Cli.Display;

namespace LlmWorkflow.Tests.Cli;

/// <summary>The display model both run and watch feed with wire events (read through the shared records).</summary>
[UnitTest]
public sealed class RunProgressTests
{
    [Fact]
    public void FollowsStepsStreamedTextAndTheOutcome()
    {
        var progress = new RunProgress();

        Apply(progress,
            """{"type": "run_started", "workflow_name": "demo", "total_steps": 2}""",
            """{"type": "step_started", "step_id": "draft", "step_key": "draft", "display_name": "Draft", "step_type": "llm", "index": 0, "total": 2, "percent": 0}""",
            """{"type": "llm_delta", "step_id": "draft", "text": "Hello "}""",
            """{"type": "llm_delta", "step_id": "draft", "text": "world"}""",
            """{"type": "step_completed", "step_id": "draft", "step_key": "draft", "status": "completed", "duration_ms": 12.5, "model": "mock/echo", "input_tokens": 3, "output_tokens": 2, "cost_usd": 0, "percent": 50}""",
            """{"type": "step_started", "step_id": "shape", "step_key": "shape", "display_name": "Shape", "step_type": "transform", "index": 1, "total": 2, "percent": 50}""",
            """{"type": "run_failed", "error": {"message": "The run was cancelled."}, "cancelled": true}""");

        Assert.Equal("demo", progress.WorkflowName);
        Assert.Equal("cancelled", progress.Outcome);
        Assert.Equal("The run was cancelled.", progress.ErrorMessage);
        var (draft, shape) = (progress.Steps[0], progress.Steps[1]);
        Assert.Equal(("completed", "mock/echo", 12.5), (draft.Status, draft.Model, draft.DurationMs));
        Assert.Equal("Hello world", draft.StreamedText.ToString());
        Assert.Same(draft, progress.LastStreamed);
        // The run ended while shape ran: it is frozen as stopped, not left spinning.
        Assert.Equal("stopped", shape.Status);
        Assert.Equal(50, progress.Percent);
    }

    [Fact]
    public void EventsForAStepNeverSeenStartingAddIt()
    {
        var progress = new RunProgress();

        Apply(progress, """{"type": "step_completed", "step_id": "late", "step_key": "late", "display_name": "Late", "status": "skipped", "percent": 100}""");

        Assert.Equal(("late", "Late", "skipped"), (progress.Steps.Single().Key, progress.Steps.Single().DisplayName, progress.Steps.Single().Status));
    }

    private static void Apply(RunProgress progress, params string[] events)
    {
        foreach (var e in events)
        {
            progress.Apply(JsonSerializer.Deserialize(e, WireJsonContext.Default.LiveJobEvent)!);
        }
    }
}
