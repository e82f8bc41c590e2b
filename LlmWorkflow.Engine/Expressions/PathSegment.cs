namespace LlmWorkflow.Engine.Expressions;

/// <summary>What one step of a <see cref="FieldPath"/> selects.</summary>
public enum PathSegmentKind
{
    /// <summary><c>.name</c> or <c>['name with spaces']</c>; a numeric name also indexes an array.</summary>
    Property,

    /// <summary><c>[2]</c>, or <c>[-1]</c> counting from the end.</summary>
    Index,

    /// <summary><c>[*]</c>: every element of an array (or every value of an object), projected into an array.</summary>
    Wildcard,
}

/// <summary>One step of a <see cref="FieldPath"/>.</summary>
public readonly record struct PathSegment(PathSegmentKind Kind, string Name, int Index)
{
    public static PathSegment Property(string name) => new(PathSegmentKind.Property, name, 0);

    public static PathSegment At(int index) => new(PathSegmentKind.Index, string.Empty, index);

    public static PathSegment Wildcard { get; } = new(PathSegmentKind.Wildcard, string.Empty, 0);

    /// <summary>The segment as written in a path: <c>name</c>, <c>[2]</c>, <c>[*]</c> or <c>['a b']</c>.</summary>
    public override string ToString() => Kind switch
    {
        PathSegmentKind.Index => $"[{Index}]",
        PathSegmentKind.Wildcard => "[*]",
        _ when PathScanner.IsPlainName(Name) => Name,
        _ => $"['{Name.Replace("'", "\\'", StringComparison.Ordinal)}']",
    };
}
