using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Steps;

/// <summary>What a step handler sees of the run while executing one attempt of one step.</summary>
internal sealed class StepContext
{
    public required StepDefinition Step { get; init; }

    /// <summary>Unique key of this execution (for_each iterations prefix it), used for checkpoints.</summary>
    public required string StepKey { get; init; }

    public required ExecutionFrame Frame { get; init; }

    public required ExpressionScope Scope { get; init; }

    public required RunState Run { get; init; }

    public required StepRunner Runner { get; init; }

    /// <summary>The top-level step this one belongs to (progress).</summary>
    public required int TopLevelIndex { get; init; }

    /// <summary>LLM usage of this step over all its attempts, for its record.</summary>
    public required StepLlmUsage LlmUsage { get; init; }

    /// <summary>Set by the handler once it resolved what it works on; kept in the step record (redacted, capped).</summary>
    public JsonNode? Input { get; set; }

    /// <summary>Set by the llm handler: the messages it sends, as text.</summary>
    public string? RenderedPrompt { get; set; }
}
