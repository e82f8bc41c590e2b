using System.Text;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// Makes an answer storable in PostgreSQL text and jsonb, which refuse U+0000 and lone UTF-16 surrogates: NULs are
/// removed and lone surrogates become U+FFFD, in string values and property names alike. A poison answer from a
/// provider or an external API is then stored (and paid for) once instead of failing its checkpoint again and again.
/// </summary>
public static class StorableJson
{
    /// <summary>The node itself when it is clean (no copy), else a cleaned copy; <paramref name="changed"/> counts the characters changed.</summary>
    public static JsonNode? Clean(JsonNode? node, out int changed)
    {
        changed = 0;
        if (node is null || !NeedsCleaning(node))
        {
            return node;
        }

        return CleanCopy(node, ref changed);
    }

    public static JsonNode? Clean(JsonNode? node) => Clean(node, out _);

    /// <summary>A reason the text cannot be stored, or null.</summary>
    public static bool IsStorable(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return false;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }

    public static string CleanText(string text, ref int changed)
    {
        if (IsStorable(text))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                changed++;
            }
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(c).Append(text[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                changed++;
                builder.Append('\uFFFD');
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    // Loops rather than LINQ: every step's output and input passes through here, almost always clean.
    private static bool NeedsCleaning(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                for (var i = 0; i < obj.Count; i++)
                {
                    var (key, value) = obj.GetAt(i);
                    if (!IsStorable(key) || (value is not null && NeedsCleaning(value)))
                    {
                        return true;
                    }
                }

                return false;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is { } item && NeedsCleaning(item))
                    {
                        return true;
                    }
                }

                return false;
            case JsonValue value:
                return !ReadString(value, out var text) || (text is not null && !IsStorable(text));
            default:
                return false;
        }
    }

    /// <summary>False when the value is a string that cannot be decoded (a lone surrogate escape in parsed JSON).</summary>
    private static bool ReadString(JsonValue value, out string? text)
    {
        text = null;
        if (value.GetValueKind() != System.Text.Json.JsonValueKind.String)
        {
            return true;
        }

        try
        {
            text = value.GetValue<string>();
            return true;
        }
        catch (InvalidOperationException)
        {
            try
            {
                var raw = value.ToJsonString();
                text = raw.Length >= 2 ? raw[1..^1] : null;
            }
            catch (InvalidOperationException)
            {
                text = null;
            }

            return false;
        }
    }

    private static JsonNode CleanCopy(JsonNode node, ref int changed)
    {
        switch (node)
        {
            case JsonObject obj:
                var copy = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    // Two keys can become equal once cleaned; the later one wins, as in a JSON parse.
                    copy[CleanText(key, ref changed)] = value is null ? null : CleanCopy(value, ref changed);
                }

                return copy;
            case JsonArray array:
                var items = new JsonArray();
                foreach (var item in array)
                {
                    items.Add(item is null ? null : CleanCopy(item, ref changed));
                }

                return items;
            case JsonValue value:
                var readable = ReadString(value, out var text);
                if (readable && text is null)
                {
                    return node.DeepClone();
                }

                if (!readable)
                {
                    // A parsed string whose escapes decode to invalid UTF-16: keep what it said, as escape text.
                    changed++;
                }

                return JsonValue.Create(CleanText(text ?? "\uFFFD", ref changed));
            default:
                return node.DeepClone();
        }
    }
}
