using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.External;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// Makes what a step was given safe and small enough to keep in its record: values under secret names
/// (<see cref="SecretNames"/>, the one rule list) become <see cref="SecretRedactor.Mask"/>, secret-looking text
/// (key query parameters, provider key formats) is masked by <see cref="SecretRedactor"/>, and anything larger than
/// the caps is cut with a marker: an input becomes <c>{"truncated": true, "size_bytes": n, "preview": "…"}</c> (as
/// <see cref="StepOutputCap"/> marks outputs), a prompt ends with <c>… [truncated: n more characters]</c>.
/// </summary>
public static class StepInputCapture
{
    public const int MaxInputBytes = 16 * 1024;
    public const int MaxPromptCharacters = 32 * 1024;

    public static JsonNode? Input(JsonNode? input)
    {
        if (input is null)
        {
            return null;
        }

        var redacted = Redact(input);
        var text = redacted!.ToJsonString();
        var size = Encoding.UTF8.GetByteCount(text);
        return size <= MaxInputBytes
            ? redacted
            : new JsonObject { ["truncated"] = true, ["size_bytes"] = size, ["preview"] = Cut(text, MaxInputBytes / 4) };
    }

    public static string? Prompt(string? prompt)
    {
        if (prompt is null)
        {
            return null;
        }

        // PostgreSQL text holds no NUL or lone surrogate: cleaned as outputs are.
        var changed = 0;
        var redacted = StorableJson.CleanText(SecretRedactor.Redact(prompt), ref changed);
        return redacted.Length <= MaxPromptCharacters
            ? redacted
            : $"{Cut(redacted, MaxPromptCharacters)}… [truncated: {redacted.Length - MaxPromptCharacters} more characters]";
    }

    private static JsonNode? Redact(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(
            p.Key, SecretNames.IsSecret(p.Key) && p.Value is not null ? JsonValue.Create(SecretRedactor.Mask) : Redact(p.Value)))),
        JsonArray array => new JsonArray([.. array.Select(Redact)]),
        JsonValue value when value.TryGetValue<string>(out var text) => JsonValue.Create(SecretRedactor.Redact(text)),
        _ => node?.DeepClone(),
    };

    /// <summary>The first <paramref name="length"/> characters, not splitting a surrogate pair.</summary>
    private static string Cut(string text, int length)
    {
        if (text.Length <= length)
        {
            return text;
        }

        return char.IsHighSurrogate(text[length - 1]) ? text[..(length - 1)] : text[..length];
    }
}
