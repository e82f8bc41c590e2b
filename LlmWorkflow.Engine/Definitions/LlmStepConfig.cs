using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// <c>llm</c> config. Exactly one of <see cref="Prompt"/>, <see cref="PromptFile"/> or <see cref="Messages"/>;
/// templates use <c>{{variable}}</c> over the resolved <see cref="Variables"/>.
/// The step's output is <c>{text, json?, model, provider, usage:{input_tokens, output_tokens, total_tokens,
/// cost_usd, estimated}, cache_hit}</c>; <c>json</c> is present only with <c>response_format: "json"</c>.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record LlmStepConfig
{
    /// <summary><c>provider/model</c>, or an array used as a fallback chain.</summary>
    [JsonPropertyName("model")]
    [JsonConverter(typeof(ModelChainJsonConverter))]
    public IReadOnlyList<string> Model { get => field ?? []; init; }

    [JsonPropertyName("prompt")]
    public string? Prompt { get; init; }

    /// <summary>Path under <c>workflows/prompts</c>.</summary>
    [JsonPropertyName("prompt_file")]
    public string? PromptFile { get; init; }

    [JsonPropertyName("messages")]
    public IReadOnlyList<LlmMessageTemplate>? Messages { get; init; }

    [JsonPropertyName("system")]
    public string? System { get; init; }

    [JsonPropertyName("system_file")]
    public string? SystemFile { get; init; }

    /// <summary>Expressions resolved before rendering, e.g. <c>{"city": "${input.city}"}</c>.</summary>
    [JsonPropertyName("variables")]
    public JsonObject? Variables { get; init; }

    [JsonPropertyName("temperature")]
    public float? Temperature { get; init; }

    [JsonPropertyName("max_tokens")]
    public int? MaxTokens { get; init; }

    [JsonPropertyName("response_format")]
    public LlmResponseFormat ResponseFormat { get; init; } = LlmResponseFormat.Text;

    /// <summary>Minimal check of a JSON answer: the top-level keys listed in its <c>required</c> must be present.</summary>
    [JsonPropertyName("json_schema")]
    public JsonObject? JsonSchema { get; init; }

    /// <summary>Send text deltas to the progress sink as they arrive.</summary>
    [JsonPropertyName("stream")]
    public bool Stream { get; init; }

    [JsonPropertyName("cache_ttl_seconds")]
    public int? CacheTtlSeconds { get; init; }
}
