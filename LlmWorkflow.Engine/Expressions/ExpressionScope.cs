using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// The values an expression can reach: <c>input</c> (the job's input data), <c>steps.&lt;id&gt;.output</c>
/// (outputs of finished steps), <c>context</c> (workflow variables) and, inside for_each / filter / map,
/// <c>item</c> and <c>index</c>. Immutable: <see cref="WithItem"/> and <see cref="WithStepOutput"/> return new
/// scopes, so parallel branches can share one safely. The step-output map is not copied by the constructor:
/// an executor may pass a live (e.g. concurrent) dictionary that it fills as steps finish.
/// Values reached through a scope are shared with it: treat them as read-only.
/// </summary>
public sealed class ExpressionScope
{
    private readonly IReadOnlyDictionary<string, JsonNode?> stepOutputs;

    public ExpressionScope(JsonNode? input, IReadOnlyDictionary<string, JsonNode?> stepOutputs, JsonObject? context)
    {
        Input = input;
        this.stepOutputs = stepOutputs;
        Context = context;
    }

    private ExpressionScope(ExpressionScope source, IReadOnlyDictionary<string, JsonNode?> stepOutputs)
        : this(source.Input, stepOutputs, source.Context)
    {
        HasItem = source.HasItem;
        Item = source.Item;
        Index = source.Index;
    }

    /// <summary>An empty scope (no input, no steps, no context), for literal values and tests.</summary>
    public static ExpressionScope Empty { get; } = new(null, new Dictionary<string, JsonNode?>(), null);

    public JsonNode? Input { get; }

    public JsonObject? Context { get; }

    public IReadOnlyDictionary<string, JsonNode?> StepOutputs => stepOutputs;

    /// <summary>True inside a per-item evaluation, where <c>item</c> and <c>index</c> exist.</summary>
    public bool HasItem { get; private init; }

    public JsonNode? Item { get; private init; }

    public int Index { get; private init; }

    /// <summary>A scope for one element of a collection: adds the roots <c>item</c> and <c>index</c>.</summary>
    public ExpressionScope WithItem(JsonNode? item, int index) =>
        new(this, stepOutputs) { HasItem = true, Item = item, Index = index };

    /// <summary>A scope that also sees <paramref name="output"/> as <c>steps.&lt;stepId&gt;.output</c> (copies the map).</summary>
    public ExpressionScope WithStepOutput(string stepId, JsonNode? output)
    {
        var outputs = new Dictionary<string, JsonNode?>(stepOutputs, StringComparer.Ordinal) { [stepId] = output };
        return new ExpressionScope(this, outputs);
    }

    public bool TryGetStepOutput(string stepId, out JsonNode? output) => stepOutputs.TryGetValue(stepId, out output);
}
