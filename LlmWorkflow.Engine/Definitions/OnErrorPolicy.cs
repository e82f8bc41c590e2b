using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// A step's <c>on_error</c>: the string forms <c>"fail" | "continue" | "retry" | "default"</c> or an object
/// <c>{"mode":"retry","max_attempts":3,"backoff_seconds":1,"backoff_multiplier":2}</c> /
/// <c>{"mode":"default","value":...}</c>.
/// </summary>
public sealed record OnErrorPolicy
{
    public const int DefaultMaxAttempts = 3;

    [JsonPropertyName("mode")]
    public required OnErrorMode Mode { get; init; }

    /// <summary>Total attempts including the first (retry mode).</summary>
    [JsonPropertyName("max_attempts")]
    public int? MaxAttempts { get; init; }

    /// <summary>Delay before the second attempt (retry mode); default 1 s.</summary>
    [JsonPropertyName("backoff_seconds")]
    public double? BackoffSeconds { get; init; }

    /// <summary>Factor applied to the delay after each further attempt; default 2.</summary>
    [JsonPropertyName("backoff_multiplier")]
    public double? BackoffMultiplier { get; init; }

    /// <summary>The output used instead of the failed step's (default mode).</summary>
    [JsonPropertyName("value")]
    public JsonNode? Value { get; init; }

    public static OnErrorPolicy Fail { get; } = new() { Mode = OnErrorMode.Fail };

    public int EffectiveMaxAttempts => Mode == OnErrorMode.Retry ? MaxAttempts ?? DefaultMaxAttempts : 1;

    /// <summary>Delay before attempt <paramref name="nextAttempt"/> (2 = first retry).</summary>
    public TimeSpan BackoffBefore(int nextAttempt) =>
        TimeSpan.FromSeconds((BackoffSeconds ?? 1) * Math.Pow(BackoffMultiplier ?? 2, nextAttempt - 2));
}
