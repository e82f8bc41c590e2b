using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>Reads <c>model</c> as a single <c>provider/model</c> string or an array of them (fallback chain).</summary>
public sealed class ModelChainJsonConverter : JsonConverter<IReadOnlyList<string>>
{
    public override IReadOnlyList<string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return [reader.GetString()!];
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("model must be a \"provider/model\" string or an array of them.");
        }

        var models = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            models.Add(reader.TokenType == JsonTokenType.String
                ? reader.GetString()!
                : throw new JsonException("model array entries must be \"provider/model\" strings."));
        }

        return models;
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<string> value, JsonSerializerOptions options)
    {
        if (value.Count == 1)
        {
            writer.WriteStringValue(value[0]);
            return;
        }

        writer.WriteStartArray();
        foreach (var model in value)
        {
            writer.WriteStringValue(model);
        }

        writer.WriteEndArray();
    }
}
