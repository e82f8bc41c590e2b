using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>extract_fields</c>: picks fields by path from one object, or from every item of an array.
/// <c>fields</c> maps output names to paths (<c>{"name": "name", "lat": "geometry.location.lat", "types": "types[*]"}</c>)
/// or lists paths (<c>["name", "rating"]</c>, named after their text). A path that does not exist yields null;
/// <c>[*]</c> projects into an array (<c>reviews[*].author</c>). A JSONPath query — recursive descent (<c>$..name</c>) or a
/// filter (<c>results[?(@.rating &gt;= 4)].name</c>) — yields the array of its matches.
/// </summary>
internal sealed class ExtractFieldsTransform : TransformBase
{
    public override string Name => "extract_fields";

    public override string Description =>
        "Pick fields by path from an object or each array item: {\"fields\": {\"name\": \"name\", \"lat\": \"geometry.location.lat\", \"types\": \"types[*]\"}}; " +
        "JSONPath queries yield arrays of their matches: \"$..name\", \"results[?(@.rating >= 4)].name\"";

    protected override JsonNode? Apply(TransformCall call)
    {
        var fields = ReadFields(call);
        return call.Input() switch
        {
            JsonArray array => new JsonArray([.. array.Select(item => Extract(item, fields, call))]),
            JsonObject obj => Extract(obj, fields, call),
            var other => throw call.InputProblem("an object or an array of objects", other),
        };
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config)
    {
        const string hint = "Example: \"fields\": {\"name\": \"name\", \"lat\": \"geometry.location.lat\"}";
        switch (config["fields"])
        {
            case null:
                return [new TransformProblem("$.fields", $"{Name}: 'fields' is required", hint)];
            case JsonObject fields:
                return fields.SelectMany(field => JsonValueSemantics.TryGetString(field.Value, out var path)
                    ? ConfigChecks.FieldPathProblem($"$.fields.{field.Key}", Name, $"fields.{field.Key}", path, query: true)
                    : [new TransformProblem($"$.fields.{field.Key}", $"{Name}: 'fields.{field.Key}' must be a path string")]);
            case JsonArray paths:
                return paths.SelectMany((path, i) => JsonValueSemantics.TryGetString(path, out var text)
                    ? ConfigChecks.FieldPathProblem($"$.fields[{i}]", Name, $"fields[{i}]", text, query: true)
                    : [new TransformProblem($"$.fields[{i}]", $"{Name}: 'fields[{i}]' must be a path string")]);
            default:
                return [new TransformProblem("$.fields", $"{Name}: 'fields' must be an object or an array of paths", hint)];
        }
    }

    private static List<(string Name, FieldPath Path)> ReadFields(TransformCall call)
    {
        var fields = new List<(string, FieldPath)>();
        switch (call.Raw("fields"))
        {
            case JsonObject mapping:
                foreach (var (name, path) in mapping)
                {
                    fields.Add((name, ParsePath(call, $"fields.{name}", path)));
                }

                break;
            case JsonArray paths:
                for (var i = 0; i < paths.Count; i++)
                {
                    var path = ParsePath(call, $"fields[{i}]", paths[i]);
                    fields.Add((path.ToString(), path));
                }

                break;
            default:
                throw call.ConfigProblem("fields", "must be an object of name -> path, or an array of paths");
        }

        return fields;
    }

    private static FieldPath ParsePath(TransformCall call, string field, JsonNode? path)
    {
        if (!JsonValueSemantics.TryGetString(path, out var text))
        {
            throw call.ConfigProblem(field, "must be a path string");
        }

        try
        {
            return FieldPath.ParseQuery(text);
        }
        catch (ExpressionSyntaxException syntax)
        {
            throw call.ConfigProblem(field, syntax.Message);
        }
    }

    private static JsonObject Extract(JsonNode? item, List<(string Name, FieldPath Path)> fields, TransformCall call)
    {
        if (item is not JsonObject)
        {
            throw call.InputProblem("an object or an array of objects (an item is not an object)", item);
        }

        var result = new JsonObject();
        foreach (var (name, path) in fields)
        {
            var value = path.Select(item);

            // Wildcard projections are fresh arrays; anything else belongs to the input tree and is copied.
            result[name] = path.HasWildcard ? value : value?.DeepClone();
        }

        return result;
    }
}
