using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>default</c>: the <c>input</c>, or <c>value</c> when the input is missing or null — or, with
/// <c>when: "empty"</c> (the default), also "", whitespace, [] or {}. Missing references in <c>input</c> count as null
/// here instead of failing: <c>{"input": "${steps.search.output.results}", "value": []}</c>.
/// </summary>
internal sealed class DefaultTransform : TransformBase
{
    public override string Name => "default";

    public override string Description => "Fallback for missing/empty values: {\"input\": \"${input.nickname}\", \"value\": \"friend\", \"when\": \"empty|null\"}";

    protected override JsonNode? Apply(TransformCall call)
    {
        var when = call.OneOf("when", "empty", "empty", "null");
        if (!call.Has("value"))
        {
            throw call.ConfigProblem("value", "is required");
        }

        var input = call.Has("input")
            ? ValueResolver.ResolveOptional(call.Raw("input"), call.Scope)
            : throw call.ConfigProblem("input", "is required");
        var useDefault = when == "null" ? JsonValueSemantics.IsNull(input) : JsonValueSemantics.IsEmpty(input);
        return useDefault ? call.Resolved("value")?.DeepClone() : input?.DeepClone();
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config) =>
        ConfigChecks.Required(config, Name, "value", "Example: \"value\": []")
            .Concat(ConfigChecks.OneOf(config, Name, "when", "empty", "null"));
}
