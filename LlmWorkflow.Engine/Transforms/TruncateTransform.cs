using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>truncate</c>: shortens a string to <c>max_chars</c> characters (suffix included) or <c>max_words</c> words,
/// appending <c>suffix</c> (default <c>"…"</c>) when something was cut; or an array to its first <c>max_items</c>:
/// <c>{"max_chars": 2000}</c>. Never splits a surrogate pair or a combined character.
/// </summary>
internal sealed class TruncateTransform : TransformBase
{
    public override string Name => "truncate";

    public override string Description => "Shorten text ({\"max_chars\": 2000} or {\"max_words\": 300}, suffix \"…\") or an array ({\"max_items\": 10})";

    protected override JsonNode? Apply(TransformCall call)
    {
        var input = call.Input();
        if (input is JsonArray array)
        {
            var maxItems = call.Int("max_items", 0) ?? throw call.ConfigProblem("max_items", "is required for an array input");
            return new JsonArray([.. array.Take(maxItems).Select(item => item?.DeepClone())]);
        }

        if (input is not JsonValue value || !value.TryGetValue<string>(out var text))
        {
            throw call.InputProblem("a string or an array", input);
        }

        var suffix = call.String("suffix") ?? "…";
        var maxChars = call.Int("max_chars", 1);
        var maxWords = call.Int("max_words", 1);
        if ((maxChars is null) == (maxWords is null))
        {
            throw call.ConfigProblem("max_chars", "or 'max_words' is required for a string input (exactly one of them)");
        }

        return JsonValue.Create(maxChars is { } chars ? ByChars(text, chars, suffix) : ByWords(text, maxWords!.Value, suffix));
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config)
    {
        var problems = ConfigChecks.Int(config, Name, "max_chars", 1)
            .Concat(ConfigChecks.Int(config, Name, "max_words", 1))
            .Concat(ConfigChecks.Int(config, Name, "max_items", 0))
            .Concat(ConfigChecks.String(config, Name, "suffix"));
        if (!config.ContainsKey("max_chars") && !config.ContainsKey("max_words") && !config.ContainsKey("max_items"))
        {
            problems = problems.Append(new TransformProblem("$", $"{Name}: give 'max_chars' or 'max_words' (strings) or 'max_items' (arrays)"));
        }

        return problems;
    }

    private static string ByChars(string text, int maxChars, string suffix)
    {
        if (text.Length <= maxChars)
        {
            return text;
        }

        var keep = Math.Max(0, maxChars - suffix.Length);
        var cut = 0;
        var elements = StringInfo.GetTextElementEnumerator(text);
        while (elements.MoveNext() && elements.ElementIndex + elements.GetTextElement().Length <= keep)
        {
            cut = elements.ElementIndex + elements.GetTextElement().Length;
        }

        return string.Concat(text.AsSpan(0, cut).TrimEnd(), suffix);
    }

    private static string ByWords(string text, int maxWords, string suffix)
    {
        var words = 0;
        var inWord = false;
        for (var i = 0; i < text.Length; i++)
        {
            var isSpace = char.IsWhiteSpace(text[i]);
            if (!isSpace && !inWord && ++words > maxWords)
            {
                return string.Concat(text.AsSpan(0, i).TrimEnd(), suffix);
            }

            inWord = !isSpace;
        }

        return text;
    }
}
