using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// Text with <c>{{name}}</c> placeholders, looked up in a variables value (an item, or the <c>variables</c> option),
/// and <c>${...}</c> references over the whole scope. A missing <c>{{name}}</c> renders empty, as in Handlebars;
/// a missing <c>${...}</c> fails. Parsed once per text: the same template renders every item.
/// </summary>
internal sealed class BraceTemplate
{
    private const int CacheLimit = 10_000;
    private static readonly ConcurrentDictionary<string, BraceTemplate> Cache = new(StringComparer.Ordinal);

    private readonly Part[] parts;

    private BraceTemplate(Part[] parts) => this.parts = parts;

    /// <summary>Either text that may hold <c>${...}</c>, or a <c>{{variable}}</c> path.</summary>
    private readonly record struct Part(TextTemplate? Text, FieldPath? Variable);

    /// <summary>Parses (or takes from the cache); throws <see cref="ExpressionSyntaxException"/>.</summary>
    public static BraceTemplate Parse(string text)
    {
        if (Cache.TryGetValue(text, out var cached))
        {
            return cached;
        }

        var parsed = new BraceTemplate(Scan(text));
        if (Cache.Count < CacheLimit)
        {
            Cache.TryAdd(text, parsed);
        }

        return parsed;
    }

    public string Render(JsonNode? variables, ExpressionScope scope)
    {
        var builder = new StringBuilder();
        foreach (var part in parts)
        {
            builder.Append(part.Variable is { } variable
                ? ValueText.Render(variable.Select(variables))
                : part.Text!.Render(scope));
        }

        return builder.ToString();
    }

    private static Part[] Scan(string text)
    {
        var parts = new List<Part>();
        var pos = 0;
        while (pos < text.Length)
        {
            var open = text.IndexOf("{{", pos, StringComparison.Ordinal);
            var close = open < 0 ? -1 : text.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0)
            {
                parts.Add(new Part(TextTemplate.Parse(text[pos..]), null));
                break;
            }

            if (open > pos)
            {
                parts.Add(new Part(TextTemplate.Parse(text[pos..open]), null));
            }

            var name = text[(open + 2)..close].Trim();
            try
            {
                parts.Add(new Part(null, FieldPath.Parse(name)));
            }
            catch (ExpressionSyntaxException syntax)
            {
                throw new ExpressionSyntaxException($"Invalid placeholder {{{{{name}}}}}: {syntax.Message}", text, open + 2);
            }

            pos = close + 2;
        }

        return [.. parts];
    }
}
