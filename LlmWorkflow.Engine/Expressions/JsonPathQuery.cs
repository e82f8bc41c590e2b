using System.Text.Json.Nodes;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// A full JSONPath query — recursive descent (<c>$..name</c>), filters (<c>$.items[?(@.price &gt; 10)].name</c>),
/// unions and slices — run by Json.NET's <c>SelectTokens</c> (the Goessner dialect the documents' Python code used),
/// rather than by extending <see cref="FieldPath"/>'s own walker. A query always yields an array of its matches, in
/// document order. Values cross between System.Text.Json and Json.NET as JSON text, with numbers read as decimals and
/// date-like strings kept as strings, so nothing is reformatted on the way.
/// </summary>
internal sealed class JsonPathQuery
{
    private static readonly JsonSerializerSettings Exact = new()
    {
        DateParseHandling = DateParseHandling.None,
        FloatParseHandling = FloatParseHandling.Decimal,
        MaxDepth = 128,
    };

    private readonly string _path;

    private JsonPathQuery(string text, string path)
    {
        Text = text;
        _path = path;
    }

    /// <summary>The query as written.</summary>
    public string Text { get; }

    /// <summary>Whether <paramref name="text"/> needs a JSONPath engine: recursive descent or a filter.</summary>
    public static bool IsQuery(string text) =>
        text.Contains("..", StringComparison.Ordinal) || text.Contains("[?", StringComparison.Ordinal);

    /// <summary>Parses the query (relative paths are read from <c>$</c>); throws <see cref="ExpressionSyntaxException"/>.</summary>
    public static JsonPathQuery Parse(string text)
    {
        var path = text.StartsWith('$') ? text : text.StartsWith("..", StringComparison.Ordinal) || text.StartsWith('[') ? "$" + text : "$." + text;
        try
        {
            // Json.NET parses the path when a query runs: run it once on an empty object to report its syntax now.
            _ = new JObject().SelectTokens(path, errorWhenNoMatch: false).ToList();
        }
        catch (JsonException invalid)
        {
            throw new ExpressionSyntaxException($"'{text}' is not a valid JSONPath query: {invalid.Message}", text, 0);
        }

        return new JsonPathQuery(text, path);
    }

    /// <summary>Every match in <paramref name="node"/>, as fresh nodes; an empty array when nothing matches.</summary>
    public JsonArray Select(JsonNode? node)
    {
        if (node is null)
        {
            return [];
        }

        var token = JsonConvert.DeserializeObject<JToken>(node.ToJsonString(), Exact)!;
        return new JsonArray([.. token.SelectTokens(_path, errorWhenNoMatch: false)
            .Select(match => JsonNode.Parse(match.ToString(Formatting.None)))]);
    }
}
