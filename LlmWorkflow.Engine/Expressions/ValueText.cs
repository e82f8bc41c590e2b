using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>How a value renders inside text: strings raw, numbers invariant, objects/arrays compact JSON, null empty.</summary>
internal static class ValueText
{
    /// <summary>Prompts are not HTML: keep non-ASCII letters and quotes readable instead of \uXXXX escapes.</summary>
    public static readonly JsonSerializerOptions RelaxedJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Render(JsonNode? value) => value switch
    {
        null => string.Empty,
        JsonValue scalar when scalar.TryGetValue<string>(out var text) => text,

        // Parsed JSON keeps its number text; writing it through a serializer is ten times slower.
        JsonValue scalar when scalar.TryGetValue(out JsonElement element) => element.GetRawText(),
        JsonValue scalar => scalar.ToJsonString(RelaxedJson),
        _ => value.ToJsonString(RelaxedJson),
    };
}
