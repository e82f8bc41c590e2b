using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>Shared plumbing of the built-in transforms: the <c>input</c> requirement and the per-call helper.</summary>
internal abstract class TransformBase : ITransform
{
    public abstract string Name { get; }

    public abstract string Description { get; }

    public virtual IReadOnlyCollection<string> ItemScopedOptions => [];

    /// <summary>False for operations that build their value without an <c>input</c> (e.g. <c>template</c>).</summary>
    protected virtual bool RequiresInput => true;

    public JsonNode? Apply(JsonObject config, ExpressionScope scope) => Apply(new TransformCall(Name, config, scope));

    /// <summary>Option checks; <c>${...}</c> syntax is the validator's, through <see cref="ValueResolver.FindReferences"/> over the whole step.</summary>
    public IEnumerable<TransformProblem> Validate(JsonObject config)
    {
        var inputProblems = RequiresInput
            ? ConfigChecks.Required(config, Name, "input", "Point it at a value, e.g. \"input\": \"${steps.fetch.output}\"")
            : [];
        return inputProblems.Concat(ValidateOptions(config));
    }

    protected abstract JsonNode? Apply(TransformCall call);

    protected abstract IEnumerable<TransformProblem> ValidateOptions(JsonObject config);
}
