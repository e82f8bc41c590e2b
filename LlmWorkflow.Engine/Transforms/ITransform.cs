using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// One data operation of a <c>transform</c> step, selected by the config's <c>operation</c>:
/// <c>{"operation": "filter", "input": "${steps.fetch.output.results}", "condition": "item.rating >= 4"}</c>.
/// </summary>
public interface ITransform
{
    /// <summary>The snake_case operation name used in workflow definitions.</summary>
    string Name { get; }

    /// <summary>One line with a tiny example, for docs and validator hints.</summary>
    string Description { get; }

    /// <summary>
    /// Runs the operation on the step's raw config: the transform resolves <c>input</c> and its other value options
    /// itself and evaluates per-item conditions and templates with <see cref="ExpressionScope.WithItem"/>.
    /// Fails with a <see cref="Execution.WorkflowException"/> naming the operation and the field.
    /// </summary>
    JsonNode? Apply(JsonObject config, ExpressionScope scope);

    /// <summary>
    /// Options evaluated once per item (e.g. <c>map.fields</c>, <c>filter.condition</c>): there, and only there,
    /// <c>${item...}</c> and <c>${index}</c> are valid references, so a validator must allow them.
    /// </summary>
    IReadOnlyCollection<string> ItemScopedOptions { get; }

    /// <summary>Checks the literal config (required fields, types, regexes, conditions, known values) without running.</summary>
    IEnumerable<TransformProblem> Validate(JsonObject config);
}
