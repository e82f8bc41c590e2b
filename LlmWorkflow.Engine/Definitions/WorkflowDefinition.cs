using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// A workflow file from <c>workflows/definitions/*.json</c>: metadata, the input contract, the steps and the
/// output template resolved over the step outputs when the run ends.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record WorkflowDefinition
{
    /// <summary>Editor hint pointing at <c>workflow.schema.json</c>; ignored by the engine.</summary>
    [JsonPropertyName("$schema")]
    public string? Schema { get; init; }

    /// <summary>Unique name callers submit as <c>workflow_name</c>.</summary>
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("version")]
    public string? Version { get; init; }

    [JsonPropertyName("description")]
    public string? Description { get; init; }

    /// <summary>JSON Schema subset checked against <c>input_data</c> at submission (see <see cref="InputSchemaValidator"/>).</summary>
    [JsonPropertyName("input_schema")]
    public JsonObject? InputSchema { get; init; }

    [JsonPropertyName("steps")]
    public required IReadOnlyList<StepDefinition> Steps { get; init; }

    /// <summary>JSON template over <c>${steps...}</c>, <c>${input...}</c>; null = the last step's output.</summary>
    [JsonPropertyName("output")]
    public JsonNode? Output { get; init; }

    [JsonPropertyName("timeout_seconds")]
    public double? TimeoutSeconds { get; init; }

    /// <summary>Budget for the whole run; LLM steps whose worst-case cost would exceed it are not started.</summary>
    [JsonPropertyName("max_cost_usd")]
    public decimal? MaxCostUsd { get; init; }

    /// <summary>
    /// What an llm step does when its forecast cost does not fit the tenant's (or user's) dollar budget:
    /// <c>fail</c> (the default), <c>downgrade</c> (run on <see cref="DowngradeModel"/>) or <c>wait</c> (park until the
    /// window has room). See <see cref="LlmWorkflow.Engine.Llm.Budgets.OnBudget"/> and docs/ADMISSION.md.
    /// </summary>
    [JsonPropertyName("on_budget")]
    public string? OnBudget { get; init; }

    /// <summary>The cheaper model (provider/model) a step runs on when <c>on_budget</c> is <c>downgrade</c>.</summary>
    [JsonPropertyName("downgrade_model")]
    public string? DowngradeModel { get; init; }

    /// <summary>
    /// What must fit a budget before a paid llm step: <c>step</c> (the default: the step's own forecast) or
    /// <c>remaining</c> (the step's forecast plus the forecast of the llm steps that can still run after it, so the job
    /// stops before the first step after which the rest could not be afforded). See <see cref="LlmWorkflow.Engine.Llm.Budgets.BudgetCheck"/>.
    /// </summary>
    [JsonPropertyName("budget_check")]
    public string? BudgetCheck { get; init; }

    /// <summary>At most so many of this workflow's jobs with the same key run at once (<see cref="WorkflowConcurrency"/>).</summary>
    [JsonPropertyName("concurrency")]
    public WorkflowConcurrency? Concurrency { get; init; }
}
