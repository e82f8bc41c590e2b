using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// Truthiness, equality, ordering and membership over JSON values, shared by conditions and transforms so that
/// <c>filter</c>, <c>sort</c>, <c>unique</c> and conditional steps agree on what "equal" and "less" mean.
/// </summary>
internal static class JsonValueSemantics
{
    /// <summary>null, false, 0, "", [] and {} are false; everything else is true.</summary>
    public static bool IsTruthy(JsonNode? value) => value switch
    {
        null => false,
        JsonArray array => array.Count > 0,
        JsonObject obj => obj.Count > 0,
        JsonValue scalar => scalar.GetValueKind() switch
        {
            JsonValueKind.False or JsonValueKind.Null => false,
            JsonValueKind.String => scalar.GetValue<string>().Length > 0,
            JsonValueKind.Number => TryGetNumber(scalar, out var number) && number != 0,
            _ => true,
        },
        _ => true,
    };

    /// <summary>null, an empty or whitespace-only string, [] and {} are empty.</summary>
    public static bool IsEmpty(JsonNode? value) => value switch
    {
        null => true,
        JsonArray array => array.Count == 0,
        JsonObject obj => obj.Count == 0,
        JsonValue scalar when scalar.TryGetValue<string>(out var text) => string.IsNullOrWhiteSpace(text),
        JsonValue scalar => scalar.GetValueKind() == JsonValueKind.Null,
        _ => false,
    };

    /// <summary>Characters of a string, items of an array, properties of an object; 0 for null; null otherwise.</summary>
    public static int? Length(JsonNode? value) => value switch
    {
        null => 0,
        JsonArray array => array.Count,
        JsonObject obj => obj.Count,
        JsonValue scalar when scalar.TryGetValue<string>(out var text) => text.Length,
        _ => null,
    };

    public static bool TryGetNumber(JsonNode? value, out double number)
    {
        number = 0;
        if (value is not JsonValue scalar || scalar.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }

        // JsonValue keeps the CLR type it was created from; JSON-parsed values hold a JsonElement.
        if (scalar.TryGetValue(out JsonElement element))
        {
            return element.TryGetDouble(out number);
        }

        if (scalar.TryGetValue(out double d)) { number = d; return true; }
        if (scalar.TryGetValue(out long l)) { number = l; return true; }
        if (scalar.TryGetValue(out int i)) { number = i; return true; }
        if (scalar.TryGetValue(out decimal m)) { number = (double)m; return true; }
        if (scalar.TryGetValue(out float f)) { number = f; return true; }
        if (scalar.TryGetValue(out ulong ul)) { number = ul; return true; }
        if (scalar.TryGetValue(out uint ui)) { number = ui; return true; }
        if (scalar.TryGetValue(out short s)) { number = s; return true; }
        if (scalar.TryGetValue(out byte b)) { number = b; return true; }

        return double.TryParse(scalar.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out number);
    }

    public static bool TryGetString(JsonNode? value, out string text)
    {
        if (value is JsonValue scalar && scalar.TryGetValue(out string? found))
        {
            text = found;
            return true;
        }

        text = string.Empty;
        return false;
    }

    /// <summary>Numbers compare numerically (1 == 1.0), strings ordinally, objects and arrays deeply; mixed kinds differ.</summary>
    public static bool AreEqual(JsonNode? left, JsonNode? right)
    {
        if (IsNull(left) || IsNull(right))
        {
            return IsNull(left) && IsNull(right);
        }

        if (TryGetString(left, out var s) && TryGetString(right, out var t))
        {
            return string.Equals(s, t, StringComparison.Ordinal);
        }

        if (TryGetNumber(left, out var a) && TryGetNumber(right, out var b))
        {
            return a == b;
        }

        return JsonNode.DeepEquals(left, right);
    }

    /// <summary>
    /// Orders two values: numbers numerically (a numeric string counts as a number when compared with one),
    /// strings ordinally, booleans false before true. False when the kinds cannot be ordered (e.g. null, objects).
    /// </summary>
    public static bool TryCompare(JsonNode? left, JsonNode? right, out int order)
    {
        order = 0;
        if (TryGetOrderNumber(left, right, out var a) && TryGetOrderNumber(right, left, out var b))
        {
            order = a.CompareTo(b);
            return true;
        }

        if (TryGetString(left, out var s) && TryGetString(right, out var t))
        {
            order = string.CompareOrdinal(s, t);
            return true;
        }

        if (left is JsonValue l && right is JsonValue r && IsBoolean(l) && IsBoolean(r))
        {
            order = l.GetValue<bool>().CompareTo(r.GetValue<bool>());
            return true;
        }

        return false;
    }

    /// <summary>String contains substring (ordinal); array contains an equal value; object has the key.</summary>
    public static bool Contains(JsonNode? container, JsonNode? value) => container switch
    {
        JsonArray array => array.Any(element => AreEqual(element, value)),
        JsonObject obj => TryGetString(value, out var key) && obj.ContainsKey(key),
        _ => TryGetString(container, out var text) && TryGetString(value, out var part) && text.Contains(part, StringComparison.Ordinal),
    };

    /// <summary>A short description of a value's kind for error messages: string, number, object, ...</summary>
    public static string KindName(JsonNode? value) => value switch
    {
        null => "null",
        JsonArray => "array",
        JsonObject => "object",
        JsonValue scalar => scalar.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.Number => "number",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            _ => "null",
        },
        _ => "value",
    };

    /// <summary>Missing, or a JSON null.</summary>
    public static bool IsNull(JsonNode? value) => value is null || (value is JsonValue scalar && scalar.GetValueKind() == JsonValueKind.Null);

    private static bool IsBoolean(JsonValue value) => value.GetValueKind() is JsonValueKind.True or JsonValueKind.False;

    private static bool TryGetOrderNumber(JsonNode? value, JsonNode? other, out double number)
    {
        if (TryGetNumber(value, out number))
        {
            return true;
        }

        // LLM answers often carry numbers as text ("4.5"); compare them numerically against real numbers.
        return TryGetNumber(other, out _)
            && TryGetString(value, out var text)
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out number);
    }
}
