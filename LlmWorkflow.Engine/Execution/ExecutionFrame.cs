using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Execution;

/// <summary>Where in the step tree a block runs: the visible outputs, the checkpoint key prefix and the parent.</summary>
internal sealed record ExecutionFrame
{
    public required LayeredStepOutputs Outputs { get; init; }

    /// <summary>Makes keys unique inside for_each iterations: <c>each[2]/</c>.</summary>
    public string KeyPrefix { get; init; } = "";

    public string? ParentStepId { get; init; }

    public string? Branch { get; init; }

    /// <summary>Index of the top-level step this frame belongs to, for progress; null at top level.</summary>
    public int? TopLevelIndex { get; init; }

    public bool HasItem { get; init; }

    public JsonNode? Item { get; init; }

    public int ItemIndex { get; init; }

    public ExpressionScope CreateScope(RunState run)
    {
        var scope = new ExpressionScope(run.Input, Outputs, run.Context);
        return HasItem ? scope.WithItem(Item, ItemIndex) : scope;
    }

    /// <summary>The frame of a then/else block or a parallel branch: same outputs, new parent.</summary>
    public ExecutionFrame ForBlock(string parentStepId, string branch, int topLevelIndex) =>
        this with { ParentStepId = parentStepId, Branch = branch, TopLevelIndex = topLevelIndex };

    /// <summary>The frame of one for_each iteration: its own output layer and key prefix, with item and index.</summary>
    public ExecutionFrame ForIteration(string parentStepKey, string parentStepId, int topLevelIndex, JsonNode? item, int index) => new()
    {
        Outputs = new LayeredStepOutputs(Outputs),
        KeyPrefix = $"{parentStepKey}[{index}]/",
        ParentStepId = parentStepId,
        Branch = index.ToString(System.Globalization.CultureInfo.InvariantCulture),
        TopLevelIndex = topLevelIndex,
        HasItem = true,
        Item = item,
        ItemIndex = index,
    };
}
