using System.Text.Json;

namespace LlmWorkflow.Engine.StructuredOutput;

/// <summary>
/// Whether a schema meets OpenAI's strict structured-output rules (an object at the root; every object with
/// <c>properties</c> lists them all in <c>required</c> and sets <c>additionalProperties: false</c>). A strict schema is
/// sent with <c>strict: true</c>, so the provider itself guarantees the shape; any other schema is sent non-strict (the
/// provider would refuse it as strict) and this service's validator alone enforces it.
/// </summary>
public static class StrictSchema
{
    public static bool IsCompatible(JsonElement schema) =>
        schema.ValueKind == JsonValueKind.Object
        && schema.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "object"
        && ObjectsAreClosed(schema);

    private static bool ObjectsAreClosed(JsonElement node)
    {
        switch (node.ValueKind)
        {
            case JsonValueKind.Object:
                if (node.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object && !IsClosed(node, properties))
                {
                    return false;
                }

                foreach (var child in node.EnumerateObject())
                {
                    // "enum", "const", "default" and "examples" hold values, not schemas.
                    if (child.Name is not ("enum" or "const" or "default" or "examples") && !ObjectsAreClosed(child.Value))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Array:
                return node.EnumerateArray().All(ObjectsAreClosed);
            default:
                return true;
        }
    }

    private static bool IsClosed(JsonElement schema, JsonElement properties)
    {
        if (!schema.TryGetProperty("additionalProperties", out var additional) || additional.ValueKind != JsonValueKind.False)
        {
            return false;
        }

        var required = schema.TryGetProperty("required", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToHashSet(StringComparer.Ordinal)
            : [];
        return properties.EnumerateObject().All(p => required.Contains(p.Name));
    }
}
