using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Execution;

/// <summary>The wire form of a <see cref="WorkflowError"/> stored on jobs and steps and sent in webhooks.</summary>
public static class JobErrors
{
    public static JsonObject ToJson(WorkflowError error) => new()
    {
        ["type"] = error.Type,
        ["category"] = error.Category.ToWire(),
        ["message"] = error.Message,
        // Document 001: SYSTEM_ERROR is never retryable, whatever raised it.
        ["retryable"] = error.Retryable && error.Category != ErrorCategory.SystemError,
        ["retry_after"] = error.RetryAfterSeconds,
        ["step_id"] = error.StepId,
        ["details"] = error.Details?.DeepClone(),
        ["suggestions"] = new JsonArray(error.Suggestions.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
    };
}
