using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// <c>for_each</c> config: runs <see cref="Steps"/> once per item with <c>${item}</c> and <c>${index}</c> in scope.
/// The step's output is an array, in item order, of each iteration's last sub-step output.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ForEachStepConfig : IControlFlowConfig
{
    /// <summary>An expression yielding an array (e.g. <c>${steps.search.output.results}</c>) or a literal array.</summary>
    [JsonPropertyName("items")]
    public required JsonNode Items { get; init; }

    [JsonPropertyName("steps")]
    public required IReadOnlyList<StepDefinition> Steps { get; init; }

    /// <summary>Iterations running at once; null = 4.</summary>
    [JsonPropertyName("max_concurrency")]
    public int? MaxConcurrency { get; init; }

    [JsonIgnore]
    public IReadOnlyList<StepBlock> Blocks => [new("steps", "config.steps", Steps)];
}
