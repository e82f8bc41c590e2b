using System.Collections.Frozen;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>The transform operations a <c>transform</c> step can name, by their snake_case names.</summary>
public sealed class TransformRegistry
{
    private readonly FrozenDictionary<string, ITransform> transforms;

    public TransformRegistry(IEnumerable<ITransform> transforms) =>
        this.transforms = transforms.ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>Sorted operation names, for docs and error messages.</summary>
    public IReadOnlyCollection<string> Names => [.. transforms.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Every built-in operation.</summary>
    public static TransformRegistry CreateDefault() => new(
    [
        new ExtractFieldsTransform(),
        new FilterTransform(),
        new MapTransform(),
        new JoinTransform(),
        new SplitTransform(),
        new SortTransform(),
        new UniqueTransform(),
        new RegexExtractTransform(),
        new MarkdownToJsonTransform(),
        new TemplateTransform(),
        new MergeTransform(),
        new ParseJsonTransform(),
        new TruncateTransform(),
        new CountTransform(),
        new FlattenTransform(),
        new DefaultTransform(),
    ]);

    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ITransform? transform) =>
        transforms.TryGetValue(name, out transform);

    /// <summary>The named operation; a CONFIG_ERROR <c>unknown_transform</c> listing the known names otherwise.</summary>
    public ITransform Get(string name) => TryGet(name, out var transform)
        ? transform
        : throw WorkflowException.Config(
            "unknown_transform",
            $"Unknown transform operation '{name}'. Known operations: {string.Join(", ", Names)}");
}
