using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary><c>conditional</c> config: runs <see cref="Then"/> when the condition holds, else <see cref="Else"/>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ConditionalStepConfig : IControlFlowConfig
{
    /// <summary>A condition in the expression language, e.g. <c>${input.count} &gt; 3 and exists ${input.city}</c>.</summary>
    [JsonPropertyName("condition")]
    public required string Condition { get; init; }

    // Missing lists arrive as null from the source-generated reader; "field ??" keeps them empty.
    [JsonPropertyName("then")]
    public IReadOnlyList<StepDefinition> Then { get => field ?? []; init; }

    [JsonPropertyName("else")]
    public IReadOnlyList<StepDefinition> Else { get => field ?? []; init; }

    [JsonIgnore]
    public IReadOnlyList<StepBlock> Blocks => [new("then", "config.then", Then), new("else", "config.else", Else)];
}
