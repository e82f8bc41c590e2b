using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>One chat message of an <c>llm</c> step; <see cref="Content"/> is a template.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record LlmMessageTemplate
{
    /// <summary><c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
    [JsonPropertyName("role")]
    public required string Role { get; init; }

    [JsonPropertyName("content")]
    public required string Content { get; init; }
}
