using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// One step of a workflow. <see cref="Config"/> stays raw JSON because it holds <c>${...}</c> expressions that
/// are resolved when the step runs; control-flow steps also get their typed <see cref="ControlFlow"/> at load.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record StepDefinition
{
    /// <summary>Unique across the whole workflow, nested steps included.</summary>
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    /// <summary>One of <see cref="StepTypes"/>; kept as text so the validator can report unknown types.</summary>
    [JsonPropertyName("type")]
    public required string Type { get; init; }

    /// <summary>Friendly name shown in progress UIs; falls back to <see cref="Id"/>.</summary>
    [JsonPropertyName("display_name")]
    public string? DisplayName { get; init; }

    [JsonPropertyName("description")]
    public string? Description { get; init; }

    [JsonPropertyName("config")]
    public JsonObject Config { get => field ??= []; init; }

    /// <summary>Null means <see cref="OnErrorMode.Fail"/>.</summary>
    [JsonPropertyName("on_error")]
    [JsonConverter(typeof(OnErrorPolicyJsonConverter))]
    public OnErrorPolicy? OnError { get; init; }

    [JsonPropertyName("timeout_seconds")]
    public double? TimeoutSeconds { get; init; }

    /// <summary>Typed config of conditional, parallel and for_each steps, with their nested steps; set by the loader.</summary>
    [JsonIgnore]
    public IControlFlowConfig? ControlFlow { get; init; }

    [JsonIgnore]
    public string Label => string.IsNullOrWhiteSpace(DisplayName) ? Id : DisplayName;

    /// <summary>The nested step lists (then/else, branches, for_each body); empty for leaf steps.</summary>
    [JsonIgnore]
    public IReadOnlyList<StepBlock> Blocks => ControlFlow?.Blocks ?? [];
}
