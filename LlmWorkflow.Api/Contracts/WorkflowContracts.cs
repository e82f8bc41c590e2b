using System.Text.Json.Nodes;

namespace LlmWorkflow.Api.Contracts;

/// <summary>One workflow of the catalog.</summary>
public sealed record WorkflowSummary(string Name, string? Version, string? Description, int StepCount, JsonObject? InputSchema);

/// <summary>
/// Body of <c>POST /api/v1/workflow/validate</c>: a catalog workflow by name, or an ad-hoc definition to check
/// before adding it, plus the input to plan with. Init properties, so a wrongly typed field is reported with its own type.
/// </summary>
public sealed record ValidateWorkflowRequest
{
    public string? WorkflowName { get; init; }

    public JsonObject? Workflow { get; init; }

    public JsonObject? InputData { get; init; }
}
