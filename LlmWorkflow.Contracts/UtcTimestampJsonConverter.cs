using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Contracts;

/// <summary>
/// Writes a timestamp in UTC with a <c>Z</c> and microseconds, the form terminal webhooks have always carried
/// (Postgres' precision), so receivers that compare strings see no change.
/// </summary>
public sealed class UtcTimestampJsonConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
}
