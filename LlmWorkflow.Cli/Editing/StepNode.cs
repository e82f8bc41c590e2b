using System.Text.Json.Nodes;

namespace LlmWorkflow.Cli.Editing;

/// <summary>
/// One step of the definition being edited, where it sits: the step list holding it (top level, a parallel branch,
/// a conditional arm or a for_each body), its index there, its JSON path and its nesting depth.
/// </summary>
internal sealed record StepNode(JsonObject Step, JsonArray Container, int Index, string JsonPath, int Depth, string? Block)
{
    public string Id => Step["id"] is JsonValue id && id.TryGetValue<string>(out var text) ? text : "?";

    public string Type => Step["type"] is JsonValue type && type.TryGetValue<string>(out var text) ? text : "?";

    public string? DisplayName => Step["display_name"] is JsonValue name && name.TryGetValue<string>(out var text) ? text : null;

    public JsonObject? Config => Step["config"] as JsonObject;
}

/// <summary>A step list inside a control-flow step that steps can be moved into.</summary>
internal sealed record StepBlockTarget(JsonArray Steps, string Label, string JsonPath)
{
    /// <summary>What a menu's search matches.</summary>
    public override string ToString() => Label;
}
