using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>Whether an <c>llm</c> step's answer is plain text or parsed as JSON.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LlmResponseFormat>))]
public enum LlmResponseFormat
{
    [JsonStringEnumMemberName("text")]
    Text,

    [JsonStringEnumMemberName("json")]
    Json,
}
