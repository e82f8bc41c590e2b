using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>One step of a dry-run plan: its config as far as it resolves and, for llm steps, the prompt and estimates.</summary>
public sealed record DryRunStep
{
    public required string Id { get; init; }

    public required string DisplayName { get; init; }

    public required string Type { get; init; }

    public required string JsonPath { get; init; }

    /// <summary>0 at top level.</summary>
    public int Depth { get; init; }

    public string? ParentStepId { get; init; }

    /// <summary>then, else, a parallel branch id, or <c>steps</c> inside for_each.</summary>
    public string? Branch { get; init; }

    /// <summary>Config with every resolvable expression replaced; expressions needing run-time values stay as text.</summary>
    public JsonObject? ResolvedConfig { get; init; }

    /// <summary>How many times the step runs: the product of the enclosing for_each item counts (1 when unknown).</summary>
    public int Runs { get; init; } = 1;

    /// <summary>An enclosing for_each's items did not resolve, so <see cref="Runs"/> is a guess of 1.</summary>
    public bool RunsUnknown { get; init; }

    /// <summary>llm: the rendered messages as <c>role: text</c> blocks.</summary>
    public string? RenderedPrompt { get; init; }

    public IReadOnlyList<string> Models { get; init; } = [];

    public int? EstimatedInputTokens { get; init; }

    public int? MinOutputTokens { get; init; }

    public int? ExpectedOutputTokens { get; init; }

    public int? MaxOutputTokens { get; init; }

    /// <summary>The step's own max_tokens (config or prompt front matter), null when it sets none; for the cost forecast, not the plan's answer.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int? ConfiguredMaxTokens { get; init; }

    /// <summary>USD for all <see cref="Runs"/>; null for non-LLM steps and unpriced models.</summary>
    public decimal? MinCostUsd { get; init; }

    public decimal? ExpectedCostUsd { get; init; }

    public decimal? MaxCostUsd { get; init; }

    /// <summary>Why something could not be planned (e.g. the prompt did not render).</summary>
    public string? Note { get; init; }
}
