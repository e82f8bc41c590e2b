using System.Text.Json.Nodes;

namespace LlmWorkflow.Api.Contracts;

/// <summary>One workflow of the catalog.</summary>
public sealed record WorkflowSummary(string Name, string? Version, string? Description, int StepCount, JsonObject? InputSchema);

/// <summary>
/// Body of <c>POST /api/v1/workflow/validate</c>: a catalog workflow by name, or an ad-hoc definition to check
/// before adding it, plus the input to plan with.
/// </summary>
public sealed record ValidateWorkflowRequest(string? WorkflowName, JsonObject? Workflow, JsonObject? InputData);
