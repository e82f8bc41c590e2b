using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// Checks input against the JSON Schema subset workflows use: <c>type</c> (object, string, number, integer,
/// boolean, array), <c>properties</c>, <c>required</c>, <c>enum</c>, <c>minimum</c>/<c>maximum</c>,
/// <c>minLength</c>/<c>maxLength</c> and <c>items</c>. Other keywords are ignored. Reports every problem.
/// </summary>
public static class InputSchemaValidator
{
    public static IReadOnlyList<InputProblem> Validate(JsonObject schema, JsonNode? input)
    {
        var problems = new List<InputProblem>();
        Check(schema, input, "$", problems);
        return problems;
    }

    private static void Check(JsonObject schema, JsonNode? value, string path, List<InputProblem> problems)
    {
        if (schema["type"] is JsonValue typeNode && typeNode.TryGetValue<string>(out var type) && !HasType(value, type))
        {
            problems.Add(new(path, $"Expected {type}, got {Describe(value)}."));
            return;
        }

        if (schema["enum"] is JsonArray allowed && !allowed.Any(option => JsonNode.DeepEquals(option, value)))
        {
            problems.Add(new(path, $"Must be one of {allowed.ToJsonString()}."));
        }

        switch (value)
        {
            case JsonObject obj:
                CheckObject(schema, obj, path, problems);
                break;
            case JsonArray array when schema["items"] is JsonObject itemSchema:
                for (var i = 0; i < array.Count; i++)
                {
                    Check(itemSchema, array[i], $"{path}[{i}]", problems);
                }

                break;
            case JsonValue scalar when scalar.GetValueKind() == JsonValueKind.String:
                CheckLength(schema, scalar.GetValue<string>(), path, problems);
                break;
            case JsonValue scalar when scalar.GetValueKind() == JsonValueKind.Number:
                CheckRange(schema, AsDouble(scalar), path, problems);
                break;
        }
    }

    private static void CheckObject(JsonObject schema, JsonObject obj, string path, List<InputProblem> problems)
    {
        if (schema["required"] is JsonArray required)
        {
            foreach (var name in required.Select(r => r?.GetValue<string>()).OfType<string>())
            {
                if (!obj.ContainsKey(name))
                {
                    problems.Add(new($"{path}.{name}", $"Required property \"{name}\" is missing."));
                }
            }
        }

        if (schema["properties"] is JsonObject properties)
        {
            foreach (var (name, propertySchema) in properties)
            {
                if (propertySchema is JsonObject nested && obj.TryGetPropertyValue(name, out var propertyValue))
                {
                    Check(nested, propertyValue, $"{path}.{name}", problems);
                }
            }
        }
    }

    private static void CheckLength(JsonObject schema, string text, string path, List<InputProblem> problems)
    {
        if (Number(schema, "minLength") is { } min && text.Length < min)
        {
            problems.Add(new(path, $"Must be at least {min} characters long."));
        }

        if (Number(schema, "maxLength") is { } max && text.Length > max)
        {
            problems.Add(new(path, $"Must be at most {max} characters long."));
        }
    }

    private static void CheckRange(JsonObject schema, double number, string path, List<InputProblem> problems)
    {
        if (Number(schema, "minimum") is { } min && number < min)
        {
            problems.Add(new(path, $"Must be at least {min.ToString(CultureInfo.InvariantCulture)}."));
        }

        if (Number(schema, "maximum") is { } max && number > max)
        {
            problems.Add(new(path, $"Must be at most {max.ToString(CultureInfo.InvariantCulture)}."));
        }
    }

    private static double? Number(JsonObject schema, string keyword) =>
        schema[keyword] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;

    private static bool HasType(JsonNode? value, string type) => (type, value?.GetValueKind()) switch
    {
        ("object", JsonValueKind.Object) => true,
        ("array", JsonValueKind.Array) => true,
        ("string", JsonValueKind.String) => true,
        ("number", JsonValueKind.Number) => true,
        ("integer", JsonValueKind.Number) => double.IsInteger(AsDouble(value!.AsValue())),
        ("boolean", JsonValueKind.True or JsonValueKind.False) => true,
        ("null", null or JsonValueKind.Null) => true,
        _ => false,
    };

    // A number parsed from JSON reads as any numeric type, but one built in code (JsonValue.Create(3)) holds its CLR type
    // (int, long, decimal …) and refuses GetValue<double>; its JSON text reads the same for both.
    private static double AsDouble(JsonValue number) =>
        number.TryGetValue<double>(out var value) ? value : double.Parse(number.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);

    private static string Describe(JsonNode? value) => value?.GetValueKind() switch
    {
        null or JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Number => "number",
        var kind => kind.ToString()!.ToLowerInvariant(),
    };
}
