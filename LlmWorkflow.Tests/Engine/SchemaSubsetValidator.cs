using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// Just enough JSON Schema (the keywords workflow.schema.json uses) to check files against it in tests, since no
/// schema library is restorable here: $ref to #/$defs, type, enum, const, pattern, properties, required,
/// additionalProperties, items, minItems, minProperties, minimum, maximum, exclusiveMinimum, oneOf, allOf, if/then.
/// </summary>
internal sealed class SchemaSubsetValidator(JsonObject root)
{
    public List<string> Validate(JsonNode? instance)
    {
        var errors = new List<string>();
        Check(root, instance, "$", errors);
        return errors;
    }

    private void Check(JsonNode? schemaNode, JsonNode? value, string path, List<string> errors)
    {
        if (schemaNode is not JsonObject schema)
        {
            return;
        }

        if (schema["$ref"]?.GetValue<string>() is { } reference)
        {
            Check(root["$defs"]![reference["#/$defs/".Length..]], value, path, errors);
        }

        var kind = value?.GetValueKind() ?? JsonValueKind.Null;
        if (schema["type"]?.GetValue<string>() is { } type && !HasType(kind, value, type))
        {
            errors.Add($"{path}: expected {type}");
            return;
        }

        if (schema["enum"] is JsonArray options && !options.Any(o => JsonNode.DeepEquals(o, value)))
        {
            errors.Add($"{path}: not in enum");
        }

        if (schema["const"] is { } constant && !JsonNode.DeepEquals(constant, value))
        {
            errors.Add($"{path}: not const");
        }

        if (kind == JsonValueKind.String && schema["pattern"]?.GetValue<string>() is { } pattern && !Regex.IsMatch(value!.GetValue<string>(), pattern))
        {
            errors.Add($"{path}: does not match {pattern}");
        }

        if (kind == JsonValueKind.Number)
        {
            var number = value!.GetValue<double>();
            if ((schema["minimum"] is { } min && number < min.GetValue<double>())
                || (schema["maximum"] is { } max && number > max.GetValue<double>())
                || (schema["exclusiveMinimum"] is { } exclusive && number <= exclusive.GetValue<double>()))
            {
                errors.Add($"{path}: out of range");
            }
        }

        if (value is JsonObject obj)
        {
            CheckObject(schema, obj, path, errors);
        }

        if (value is JsonArray array)
        {
            if (schema["minItems"] is { } minItems && array.Count < minItems.GetValue<int>())
            {
                errors.Add($"{path}: too few items");
            }

            for (var i = 0; i < array.Count; i++)
            {
                Check(schema["items"], array[i], $"{path}[{i}]", errors);
            }
        }

        if (schema["oneOf"] is JsonArray oneOf && oneOf.Count(option => Passes(option, value)) != 1)
        {
            errors.Add($"{path}: does not match exactly one of oneOf");
        }

        foreach (var part in schema["allOf"]?.AsArray() ?? [])
        {
            if (part?["if"] is { } condition && Passes(condition, value))
            {
                Check(part["then"], value, path, errors);
            }
        }
    }

    private void CheckObject(JsonObject schema, JsonObject obj, string path, List<string> errors)
    {
        foreach (var required in schema["required"]?.AsArray() ?? [])
        {
            if (!obj.ContainsKey(required!.GetValue<string>()))
            {
                errors.Add($"{path}: missing {required}");
            }
        }

        if (schema["minProperties"] is { } minProperties && obj.Count < minProperties.GetValue<int>())
        {
            errors.Add($"{path}: too few properties");
        }

        var properties = schema["properties"] as JsonObject;
        foreach (var (key, propertyValue) in obj)
        {
            if (properties?[key] is { } propertySchema)
            {
                Check(propertySchema, propertyValue, $"{path}.{key}", errors);
            }
            else if (schema["additionalProperties"] is JsonValue allowed && !allowed.GetValue<bool>())
            {
                errors.Add($"{path}.{key}: not allowed");
            }
            else if (schema["additionalProperties"] is JsonObject additional)
            {
                Check(additional, propertyValue, $"{path}.{key}", errors);
            }
        }
    }

    private bool Passes(JsonNode? schema, JsonNode? value)
    {
        var errors = new List<string>();
        Check(schema, value, "$", errors);
        return errors.Count == 0;
    }

    private static bool HasType(JsonValueKind kind, JsonNode? value, string type) => type switch
    {
        "object" => kind == JsonValueKind.Object,
        "array" => kind == JsonValueKind.Array,
        "string" => kind == JsonValueKind.String,
        "number" => kind == JsonValueKind.Number,
        "integer" => kind == JsonValueKind.Number && double.IsInteger(value!.GetValue<double>()),
        "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
        _ => false,
    };
}
