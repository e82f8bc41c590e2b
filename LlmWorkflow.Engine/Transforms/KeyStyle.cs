using System.Text;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// Turns labels and headings into JSON keys: <c>snake</c> ("Fit Score" → <c>fit_score</c>), <c>camel</c>
/// (<c>fitScore</c>) or <c>original</c> (trimmed as written). Emoji, punctuation and markdown marks are dropped.
/// </summary>
internal static class KeyStyle
{
    public static readonly string[] Names = ["snake", "camel", "original"];

    public static string Apply(string label, string style)
    {
        var words = Words(label);
        if (style == "original" || words.Count == 0)
        {
            return label.Trim();
        }

        if (style == "snake")
        {
            return string.Join('_', words.Select(w => w.ToLowerInvariant()));
        }

        var builder = new StringBuilder(words[0].ToLowerInvariant());
        foreach (var word in words.Skip(1))
        {
            builder.Append(char.ToUpperInvariant(word[0])).Append(word[1..].ToLowerInvariant());
        }

        return builder.ToString();
    }

    /// <summary>Lower-case words joined by single spaces, for matching headings loosely.</summary>
    public static string Normalize(string text) => string.Join(' ', Words(text)).ToLowerInvariant();

    private static List<string> Words(string text)
    {
        var words = new List<string>();
        var start = -1;
        for (var i = 0; i <= text.Length; i++)
        {
            var isWordChar = i < text.Length && char.IsLetterOrDigit(text[i]);
            if (isWordChar && start < 0)
            {
                start = i;
            }
            else if (!isWordChar && start >= 0)
            {
                words.Add(text[start..i]);
                start = -1;
            }
        }

        return words;
    }
}
