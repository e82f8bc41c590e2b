using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// A config string parsed once into literal text and <c>${...}</c> references (<c>$${</c> is a literal <c>${</c>).
/// Cached by text, because the same definition strings are resolved for every job.
/// </summary>
internal sealed class TextTemplate
{
    private const int CacheLimit = 10_000;
    private static readonly ConcurrentDictionary<string, TextTemplate> Cache = new(StringComparer.Ordinal);

    private readonly Part[] parts;

    private TextTemplate(Part[] parts) => this.parts = parts;

    /// <summary>One piece of a template: literal text, or a path with the source text it was written as.</summary>
    private readonly record struct Part(string? Literal, ScopePath? Path, string Source);

    /// <summary>True when the whole text is one reference, which then resolves to the referenced node itself.</summary>
    public bool IsSingleReference => parts is [{ Path: not null }];

    public static bool MayContainExpression(string text) => text.Contains("${", StringComparison.Ordinal);

    public static TextTemplate Parse(string text)
    {
        if (Cache.TryGetValue(text, out var cached))
        {
            return cached;
        }

        var parsed = new TextTemplate(Scan(text));
        if (Cache.Count < CacheLimit)
        {
            Cache.TryAdd(text, parsed);
        }

        return parsed;
    }

    /// <summary>A whole-string reference keeps its JSON type; anything else renders to a string.</summary>
    public JsonNode? Evaluate(ExpressionScope scope, bool throwIfMissing = true) => parts switch
    {
        [{ Path: { } path }] => path.Evaluate(scope, throwIfMissing),
        [{ Literal: { } literal }] => JsonValue.Create(literal),
        _ => JsonValue.Create(Render(scope, throwIfMissing)),
    };

    public string Render(ExpressionScope scope, bool throwIfMissing = true)
    {
        if (parts is [{ Literal: { } only }])
        {
            return only;
        }

        var builder = new StringBuilder();
        foreach (var part in parts)
        {
            builder.Append(part.Path is null ? part.Literal : ValueText.Render(part.Path.Evaluate(scope, throwIfMissing)));
        }

        return builder.ToString();
    }

    public IEnumerable<ExpressionReference> References(string jsonPath) =>
        parts.Where(p => p.Path is not null)
            .Select(p => new ExpressionReference(p.Path!.Root, p.Path.StepId, p.Path.Tail.ToString(), p.Source, jsonPath));

    private static Part[] Scan(string text)
    {
        var parts = new List<Part>();
        var literal = new StringBuilder();
        var pos = 0;
        while (pos < text.Length)
        {
            var start = text.IndexOf("${", pos, StringComparison.Ordinal);
            if (start < 0)
            {
                literal.Append(text, pos, text.Length - pos);
                break;
            }

            if (start > 0 && text[start - 1] == '$')
            {
                // "$${" is the escape for a literal "${": drop one '$'.
                literal.Append(text, pos, start - 1 - pos).Append("${");
                pos = start + 2;
                continue;
            }

            literal.Append(text, pos, start - pos);
            var cursor = start + 2;
            SkipSpaces(text, ref cursor);
            var path = ScopePath.Read(text, ref cursor);
            SkipSpaces(text, ref cursor);
            if (cursor >= text.Length || text[cursor] != '}')
            {
                throw ExpressionSyntaxException.At(text, cursor, "'}' to close the '${' at position " + start);
            }

            cursor++;
            if (literal.Length > 0)
            {
                parts.Add(new Part(literal.ToString(), null, string.Empty));
                literal.Clear();
            }

            parts.Add(new Part(null, path, text[start..cursor]));
            pos = cursor;
        }

        if (literal.Length > 0)
        {
            parts.Add(new Part(literal.ToString(), null, string.Empty));
        }

        return [.. parts];
    }

    private static void SkipSpaces(string text, ref int pos)
    {
        while (pos < text.Length && text[pos] == ' ')
        {
            pos++;
        }
    }
}
