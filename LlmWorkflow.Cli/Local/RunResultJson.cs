using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Display;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Cli.Local;

/// <summary>The result of a local run as <c>run --json</c> prints it, field names as in the service's API.</summary>
internal static class RunResultJson
{
    public static JsonObject ToJson(string workflowName, WorkflowRunResult result) => new()
    {
        ["workflow_name"] = workflowName,
        ["status"] = Status(result.Status),
        ["output"] = result.Output?.DeepClone(),
        ["error"] = result.Error is null ? null : JobErrors.ToJson(result.Error),
        ["duration_ms"] = Math.Round(result.DurationMs, 1),
        ["cost_data"] = CostData.From(result).ToJson(),
        ["steps"] = new JsonArray([.. result.Steps.Select(step => new JsonObject
        {
            ["step_key"] = step.StepKey,
            ["step_id"] = step.StepId,
            ["display_name"] = step.DisplayName,
            ["type"] = step.Type,
            ["status"] = step.Status.ToWire(),
            ["attempts"] = step.Attempts,
            ["duration_ms"] = Math.Round(step.DurationMs, 1),
            ["model"] = step.Model,
            ["input_tokens"] = step.InputTokens,
            ["output_tokens"] = step.OutputTokens,
            ["cost_usd"] = step.CostUsd,
            ["output"] = step.Output?.DeepClone(),
            ["error"] = step.Error is null ? null : JobErrors.ToJson(step.Error),
        })]),
    };

    public static string Status(WorkflowRunStatus status) => status.ToString().ToLowerInvariant();

    public static List<StepCostRow> CostRows(WorkflowRunResult result) =>
    [
        .. result.Steps.Select(step => new StepCostRow(
            step.StepKey, step.DisplayName, step.Type, step.Status.ToWire(), step.Model,
            step.InputTokens, step.OutputTokens, step.CostUsd, step.DurationMs)),
    ];
}
