using System.Globalization;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Templates;

/// <summary>
/// Settings a prompt file may declare between <c>---</c> lines at its top, as simple <c>key: value</c> lines:
/// <c>model</c>, <c>max_tokens</c>, <c>temperature</c>, <c>description</c>. Values may be quoted; <c>#</c> lines are comments.
/// </summary>
public sealed record PromptFrontMatter(string? Model, int? MaxTokens, float? Temperature, string? Description)
{
    public static PromptFrontMatter None { get; } = new(null, null, null, null);

    /// <summary>
    /// Splits <paramref name="text"/> into front matter and body. Throws a CONFIG_ERROR <c>invalid_prompt</c>
    /// naming <paramref name="path"/> for an unclosed block, an unknown key or a bad value.
    /// </summary>
    internal static PromptFrontMatter Split(string text, string path, out string body)
    {
        var normalized = text.ReplaceLineEndings("\n");
        if (!normalized.StartsWith("---\n", StringComparison.Ordinal))
        {
            body = normalized;
            return None;
        }

        // Search from the opening line's newline, so that an empty block ("---\n---") closes at once.
        var end = normalized.IndexOf("\n---", 3, StringComparison.Ordinal);
        var endOfLine = end < 0 ? -1 : normalized.IndexOf('\n', end + 4);
        if (end < 0 || (endOfLine < 0 ? normalized[(end + 4)..] : normalized[(end + 4)..endOfLine]).Trim().Length > 0)
        {
            throw Invalid(path, "front matter starts with '---' but has no closing '---' line");
        }

        body = endOfLine < 0 ? string.Empty : normalized[(endOfLine + 1)..];
        var frontMatter = None;
        foreach (var rawLine in normalized[Math.Min(4, end)..end].Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw Invalid(path, $"front matter line '{line}' is not 'key: value'");
            }

            var key = line[..colon].Trim();
            var value = Unquote(line[(colon + 1)..].Trim());
            frontMatter = key switch
            {
                "model" => frontMatter with { Model = value },
                "description" => frontMatter with { Description = value },
                "max_tokens" => frontMatter with
                {
                    MaxTokens = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var tokens) && tokens > 0
                        ? tokens
                        : throw Invalid(path, $"front matter 'max_tokens' must be a positive whole number, got '{value}'"),
                },
                "temperature" => frontMatter with
                {
                    Temperature = float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var temperature) && temperature is >= 0 and <= 2
                        ? temperature
                        : throw Invalid(path, $"front matter 'temperature' must be a number from 0 to 2, got '{value}'"),
                },
                _ => throw Invalid(path, $"unknown front matter key '{key}' (known: model, max_tokens, temperature, description)"),
            };
        }

        return frontMatter;
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && value[0] is '"' or '\'' && value[^1] == value[0] ? value[1..^1] : value;

    private static WorkflowException Invalid(string path, string message) => WorkflowException.Config("invalid_prompt", $"Prompt '{path}': {message}");
}
