using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;

namespace LlmWorkflow.Api.Generator;

/// <summary>
/// A <c>generate_project</c> job's live events under document 004's names: <c>run_started</c>,
/// <c>section_started</c> and <c>section_completed</c> (the <c>section_&lt;id&gt;</c> steps, with <c>section_id</c>),
/// <c>run_completed</c>, and <c>error</c> (the run failed or was cancelled). Other events (the plan and validation
/// steps, LLM deltas and calls) are left out. Each event keeps its entry id, so Last-Event-ID resumes where it left off.
/// </summary>
internal static class ProjectGeneratorEvents
{
    public const string RunStarted = "run_started";
    public const string SectionStarted = "section_started";
    public const string SectionCompleted = "section_completed";
    public const string RunCompleted = "run_completed";
    public const string Error = "error";

    public static IReadOnlyList<string> All { get; } = [RunStarted, SectionStarted, SectionCompleted, RunCompleted, Error];

    public static async IAsyncEnumerable<SseItem<string>> View(IAsyncEnumerable<SseItem<string>> jobEvents, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var item in jobEvents.WithCancellation(cancellationToken))
        {
            if (Map(item) is { } mapped)
            {
                yield return mapped;
            }
        }
    }

    /// <summary>The 004 event for a job event, or null when 004 has none for it.</summary>
    public static SseItem<string>? Map(SseItem<string> item)
    {
        var live = JsonSerializer.Deserialize(item.Data, WireJsonContext.Default.LiveJobEvent);
        var (type, data) = live switch
        {
            RunStartedEvent started => (RunStarted, Base(started, "planning")),
            StepStartedEvent { ParentStepId: null } step when SectionId(step.StepId) is { } section =>
                (SectionStarted, With(Base(step, "generating"), ("section_id", section), ("name", step.DisplayName))),
            StepCompletedEvent { ParentStepId: null, Status: "completed" } step when SectionId(step.StepId) is { } section =>
                (SectionCompleted, With(Base(step, "generating"), ("section_id", section), ("name", step.DisplayName))),
            RunCompletedEvent done => (RunCompleted, With(Base(done, "complete"), ("cost_usd", done.CostUsd), ("total_tokens", done.TotalTokens))),
            RunFailedEvent failed => (Error, With(Base(failed, "error"), ("error", failed.Error?.DeepClone()), ("cancelled", failed.Cancelled))),
            JobCancelledEvent cancelled => (Error, With(Base(cancelled, "error"),
                ("error", cancelled.Error?.DeepClone() ?? new JsonObject { ["type"] = "cancelled", ["message"] = "The run was cancelled." }), ("cancelled", true))),
            _ => ((string?)null, (JsonObject?)null),
        };
        return type is null ? null : new SseItem<string>(data!.ToJsonString(), type) { EventId = item.EventId };
    }

    /// <summary>The section id of a <c>section_&lt;id&gt;</c> step; null for the other steps.</summary>
    public static string? SectionId(string stepId) =>
        stepId.StartsWith(ProjectDocumentReader.SectionStepPrefix, StringComparison.Ordinal) && stepId.Length > ProjectDocumentReader.SectionStepPrefix.Length
            ? stepId[ProjectDocumentReader.SectionStepPrefix.Length..]
            : null;

    private static JsonObject Base(LiveJobEvent live, string status) => new()
    {
        ["run_id"] = live.JobId,
        ["status"] = status,
        ["timestamp"] = live.Timestamp,
    };

    private static JsonObject With(JsonObject data, params (string Name, JsonNode? Value)[] fields)
    {
        foreach (var (name, value) in fields)
        {
            data[name] = value;
        }

        return data;
    }
}
