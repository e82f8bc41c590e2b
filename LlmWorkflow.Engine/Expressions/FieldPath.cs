using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// A path relative to a value, e.g. <c>geometry.location.lat</c>, <c>types[0]</c>, <c>results[*].name</c>,
/// <c>items[-1]</c> or <c>['key with spaces']</c>. <c>[*]</c> projects: it applies the rest of the path to every
/// element and collects the results that exist into an array. An empty path (or <c>$</c>) selects the value itself.
/// Where <see cref="ParseQuery"/> reads it, a path with recursive descent (<c>$..name</c>) or a filter
/// (<c>items[?(@.rating &gt;= 4)].name</c>) is a full JSONPath query (<see cref="JsonPathQuery"/>) and, like <c>[*]</c>,
/// yields an array of its matches.
/// Parsed paths are cached by text.
/// </summary>
public sealed class FieldPath
{
    private const int CacheLimit = 10_000;
    private static readonly ConcurrentDictionary<string, FieldPath> Cache = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, FieldPath> QueryCache = new(StringComparer.Ordinal);

    private readonly JsonPathQuery? _query;

    internal FieldPath(PathSegment[] segments)
    {
        Segments = segments;
        HasWildcard = segments.Any(s => s.Kind == PathSegmentKind.Wildcard);
    }

    private FieldPath(JsonPathQuery query)
        : this([])
    {
        _query = query;
        HasWildcard = true;
    }

    /// <summary>The path that selects the value itself.</summary>
    public static FieldPath Self { get; } = new([]);

    public IReadOnlyList<PathSegment> Segments { get; }

    /// <summary>True when the path contains <c>[*]</c> (or is a JSONPath query) and so always yields an array.</summary>
    public bool HasWildcard { get; }

    /// <summary>Parses (or takes from the cache) a relative path; throws <see cref="ExpressionSyntaxException"/>.</summary>
    public static FieldPath Parse(string text)
    {
        if (Cache.TryGetValue(text, out var cached))
        {
            return cached;
        }

        var parsed = ParseUncached(text);
        if (Cache.Count < CacheLimit)
        {
            Cache.TryAdd(text, parsed);
        }

        return parsed;
    }

    /// <summary>The selected value, or null when the path does not exist in <paramref name="node"/>.</summary>
    public JsonNode? Select(JsonNode? node) => TrySelect(node, out var value) ? value : null;

    /// <summary>Selects the value; false when a segment does not exist (a present JSON null is found).</summary>
    public bool TrySelect(JsonNode? node, out JsonNode? value) => TryWalk(node, 0, out value, out _, out _);

    public override string ToString() => _query?.Text ?? Describe(Segments.Count);

    /// <summary>The first <paramref name="count"/> segments as path text, e.g. <c>location.city</c>.</summary>
    internal string Describe(int count)
    {
        var builder = new System.Text.StringBuilder();
        for (var i = 0; i < count; i++)
        {
            var text = Segments[i].ToString();
            if (builder.Length > 0 && !text.StartsWith('['))
            {
                builder.Append('.');
            }

            builder.Append(text);
        }

        return builder.ToString();
    }

    /// <summary>
    /// Walks from segment <paramref name="from"/>. On failure, <paramref name="failedAt"/> is the segment that
    /// did not exist and <paramref name="container"/> the value it was looked up in.
    /// </summary>
    internal bool TryWalk(JsonNode? node, int from, out JsonNode? value, out int failedAt, out JsonNode? container)
    {
        if (_query is not null)
        {
            value = _query.Select(node);
            failedAt = -1;
            container = null;
            return true;
        }

        for (var i = from; i < Segments.Count; i++)
        {
            var segment = Segments[i];
            switch (segment.Kind)
            {
                case PathSegmentKind.Property when node is JsonObject obj && obj.TryGetPropertyValue(segment.Name, out var child):
                    node = child;
                    break;
                case PathSegmentKind.Property when node is JsonArray array
                    && int.TryParse(segment.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var numericIndex)
                    && numericIndex < array.Count:
                    node = array[numericIndex];
                    break;
                case PathSegmentKind.Index when node is JsonArray array:
                    var index = segment.Index < 0 ? array.Count + segment.Index : segment.Index;
                    if (index < 0 || index >= array.Count)
                    {
                        return Fail(i, node, out value, out failedAt, out container);
                    }

                    node = array[index];
                    break;
                case PathSegmentKind.Wildcard when node is JsonArray or JsonObject:
                    value = Project(node, i + 1);
                    failedAt = -1;
                    container = null;
                    return true;
                default:
                    return Fail(i, node, out value, out failedAt, out container);
            }
        }

        value = node;
        failedAt = -1;
        container = null;
        return true;
    }

    private JsonArray Project(JsonNode collection, int from)
    {
        IEnumerable<JsonNode?> elements = collection is JsonArray array
            ? array
            : ((JsonObject)collection).Select(property => property.Value);
        var results = new JsonArray();
        foreach (var element in elements)
        {
            if (TryWalk(element, from, out var selected, out _, out _))
            {
                // Selected nodes belong to the source tree; the projection needs its own copies.
                results.Add(selected?.DeepClone());
            }
        }

        return results;
    }

    private static bool Fail(int at, JsonNode? node, out JsonNode? value, out int failedAt, out JsonNode? container)
    {
        value = null;
        failedAt = at;
        container = node;
        return false;
    }

    /// <summary>
    /// Parses a path that may also be a full JSONPath query (recursive descent, filters): where transforms pick values
    /// (<c>extract_fields</c>), as the documents' JSONPath support has it. Throws <see cref="ExpressionSyntaxException"/>.
    /// </summary>
    public static FieldPath ParseQuery(string text)
    {
        if (!JsonPathQuery.IsQuery(text))
        {
            return Parse(text);
        }

        if (QueryCache.TryGetValue(text, out var cached))
        {
            return cached;
        }

        var parsed = new FieldPath(JsonPathQuery.Parse(text));
        if (QueryCache.Count < CacheLimit)
        {
            QueryCache.TryAdd(text, parsed);
        }

        return parsed;
    }

    private static FieldPath ParseUncached(string text)
    {
        var pos = 0;
        if (text.StartsWith('$'))
        {
            pos = text.Length > 1 && text[1] == '.' ? 2 : 1;
        }

        if (pos >= text.Length)
        {
            return Self;
        }

        var segments = new List<PathSegment>();
        if (text[pos] != '[')
        {
            var name = PathScanner.ReadName(text, ref pos);
            if (name.Length == 0)
            {
                throw ExpressionSyntaxException.At(text, pos, "a property name or '['");
            }

            segments.Add(PathSegment.Property(name));
        }

        PathScanner.ReadSegments(text, ref pos, segments);
        if (pos != text.Length)
        {
            throw ExpressionSyntaxException.At(text, pos, "'.', '[' or the end of the path");
        }

        return new FieldPath([.. segments]);
    }
}
