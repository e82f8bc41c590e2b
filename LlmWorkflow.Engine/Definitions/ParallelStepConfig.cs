using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// <c>parallel</c> config: named branches run concurrently; each branch runs its steps in order. The step's output
/// is an object keyed by branch id holding each branch's last step output.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ParallelStepConfig : IControlFlowConfig
{
    [JsonPropertyName("branches")]
    public required IReadOnlyDictionary<string, IReadOnlyList<StepDefinition>> Branches { get; init; }

    /// <summary>Branches running at once; null = all.</summary>
    [JsonPropertyName("max_concurrency")]
    public int? MaxConcurrency { get; init; }

    [JsonPropertyName("mode")]
    public ParallelMode Mode { get; init; } = ParallelMode.FailFast;

    [JsonIgnore]
    public IReadOnlyList<StepBlock> Blocks =>
        [.. Branches.Select(branch => new StepBlock(branch.Key, $"config.branches.{branch.Key}", branch.Value))];
}
