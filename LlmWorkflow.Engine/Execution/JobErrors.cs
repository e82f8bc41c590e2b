using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Execution;

/// <summary>The wire form of a <see cref="WorkflowError"/> stored on jobs and steps and sent in webhooks.</summary>
public static class JobErrors
{
    /// <summary>What <c>details.service</c> says when the failure is the service's own (a workflow timeout, a stale job).</summary>
    public const string OwnService = "llm_workflow";

    public static JsonObject ToJson(WorkflowError error) => new()
    {
        ["type"] = error.Type,
        ["category"] = error.Category.ToWire(),
        ["message"] = error.Message,
        // Document 001: SYSTEM_ERROR is never retryable, whatever raised it.
        ["retryable"] = error.Retryable && error.Category != ErrorCategory.SystemError,
        ["retry_after"] = error.RetryAfterSeconds,
        ["step_id"] = error.StepId,
        ["details"] = Details(error),
        ["suggestions"] = Suggestions(error),
    };

    /// <summary>
    /// The error's details with document 001's <c>details.service</c> (the external service, the LLM provider, else the
    /// step type that failed) and <c>details.suggestions</c> (the same list as the top-level <c>suggestions</c>).
    /// </summary>
    private static JsonObject Details(WorkflowError error)
    {
        var details = error.Details?.DeepClone().AsObject() ?? [];
        details.TryAdd("service", ServiceOf(details));
        details.TryAdd("suggestions", Suggestions(error));
        return details;
    }

    private static string ServiceOf(JsonObject details)
    {
        var config = details["config"] as JsonObject;
        // An llm step's model is "provider/model", or a fallback chain of them: the first names the provider.
        var model = Text(config?["model"]) ?? Text((config?["model"] as JsonArray)?.FirstOrDefault());
        return Text(details["service"]) ?? Text(config?["service"]) ?? Text(details["provider"])
            ?? (model is not null && model.Contains('/', StringComparison.Ordinal) ? model[..model.IndexOf('/', StringComparison.Ordinal)] : null)
            ?? Text(details["step_type"])
            ?? OwnService;
    }

    private static string? Text(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) && !string.IsNullOrWhiteSpace(text) ? text : null;

    private static JsonArray Suggestions(WorkflowError error) =>
        new(error.Suggestions.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());
}
