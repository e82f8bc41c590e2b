using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>Reads the string and object forms of <c>on_error</c>; writes the string form when it says everything.</summary>
public sealed class OnErrorPolicyJsonConverter : JsonConverter<OnErrorPolicy>
{
    private static readonly string[] ModeNames = ["fail", "continue", "retry", "default"];

    public override OnErrorPolicy Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return new OnErrorPolicy { Mode = ParseMode(reader.GetString()) };
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("on_error must be \"fail\", \"continue\", \"retry\", \"default\" or an object with \"mode\".");
        }

        var node = JsonNode.Parse(ref reader)!.AsObject();
        OnErrorMode? mode = null;
        int? maxAttempts = null;
        double? backoff = null, multiplier = null;
        JsonNode? value = null;
        foreach (var (key, property) in node)
        {
            switch (key)
            {
                case "mode": mode = ParseMode(property is JsonValue v && v.TryGetValue<string>(out var s) ? s : null); break;
                case "max_attempts": maxAttempts = Number<int>(property, key); break;
                case "backoff_seconds": backoff = Number<double>(property, key); break;
                case "backoff_multiplier": multiplier = Number<double>(property, key); break;
                case "value": value = property?.DeepClone(); break;
                default: throw new JsonException($"on_error has no property \"{key}\" (expected mode, max_attempts, backoff_seconds, backoff_multiplier, value).");
            }
        }

        return new OnErrorPolicy
        {
            Mode = mode ?? throw new JsonException("on_error object needs \"mode\"."),
            MaxAttempts = maxAttempts,
            BackoffSeconds = backoff,
            BackoffMultiplier = multiplier,
            Value = value,
        };
    }

    public override void Write(Utf8JsonWriter writer, OnErrorPolicy value, JsonSerializerOptions options)
    {
        var modeName = ModeNames[(int)value.Mode];
        if (value is { MaxAttempts: null, BackoffSeconds: null, BackoffMultiplier: null, Value: null })
        {
            writer.WriteStringValue(modeName);
            return;
        }

        writer.WriteStartObject();
        writer.WriteString("mode", modeName);
        if (value.MaxAttempts is { } attempts) writer.WriteNumber("max_attempts", attempts);
        if (value.BackoffSeconds is { } backoff) writer.WriteNumber("backoff_seconds", backoff);
        if (value.BackoffMultiplier is { } multiplier) writer.WriteNumber("backoff_multiplier", multiplier);
        if (value.Value is { } fallback)
        {
            writer.WritePropertyName("value");
            fallback.WriteTo(writer);
        }

        writer.WriteEndObject();
    }

    private static OnErrorMode ParseMode(string? name)
    {
        var index = Array.IndexOf(ModeNames, name);
        return index >= 0
            ? (OnErrorMode)index
            : throw new JsonException($"Unknown on_error mode \"{name}\"; use one of: {string.Join(", ", ModeNames)}.");
    }

    private static T Number<T>(JsonNode? node, string key) =>
        node is JsonValue value && value.TryGetValue<T>(out var number)
            ? number
            : throw new JsonException($"on_error.{key} must be a {(typeof(T) == typeof(int) ? "whole number" : "number")}.");
}
