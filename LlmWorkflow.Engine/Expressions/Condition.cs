using System.Collections.Concurrent;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// A parsed condition for conditional steps and the <c>filter</c> transform. A small, safe language (no code runs):
/// <list type="bullet">
/// <item>Literals: numbers, <c>'text'</c> / <c>"text"</c>, <c>true</c>, <c>false</c>, <c>null</c>, lists <c>['a', 'b']</c>.</item>
/// <item>Paths, bare or <c>${...}</c>-wrapped: <c>input.x</c>, <c>steps.a.output.count</c>, <c>item.rating</c>, <c>context.tier</c>, <c>index</c>.
/// A missing path is null here (never an error), so <c>exists</c> can test for it.</item>
/// <item>Comparisons <c>== != &lt; &lt;= &gt; &gt;=</c>: numbers numerically (a numeric string against a number too),
/// strings ordinally; ordering anything else is false.</item>
/// <item><c>and</c> / <c>&amp;&amp;</c>, <c>or</c> / <c>||</c>, <c>not</c> / <c>!</c>, parentheses.</item>
/// <item><c>a contains b</c> (substring, array element, object key), <c>x in ['a','b']</c>, <c>x in input.list</c>,
/// <c>not in</c>, <c>not contains</c>.</item>
/// <item><c>exists(path)</c> / <c>path exists</c> (present and not null), <c>len(x)</c> / <c>length(x)</c>, <c>empty(x)</c>.</item>
/// <item>A bare value is true unless it is null, false, 0, "", [] or {}.</item>
/// </list>
/// Example: <c>item.rating &gt;= 4 and item.types contains 'hospital' and not empty(item.phone)</c>.
/// Parsed conditions are cached by text.
/// </summary>
public sealed class Condition
{
    private const int CacheLimit = 10_000;
    private static readonly ConcurrentDictionary<string, Condition> Cache = new(StringComparer.Ordinal);

    private readonly ConditionNode root;

    private Condition(string text, ConditionNode root, IReadOnlyList<ExpressionReference> references)
    {
        Text = text;
        this.root = root;
        References = references;
    }

    public string Text { get; }

    /// <summary>Every path in the condition; <see cref="ExpressionReference.JsonPath"/> is <c>$</c> (rebase it to where the condition is).</summary>
    public IReadOnlyList<ExpressionReference> References { get; }

    /// <summary>Parses (or takes from the cache); throws <see cref="ExpressionSyntaxException"/> naming the position and what was expected.</summary>
    public static Condition Parse(string text)
    {
        if (Cache.TryGetValue(text, out var cached))
        {
            return cached;
        }

        var (root, references) = ConditionParser.Parse(text);
        var parsed = new Condition(text, root, references);
        if (Cache.Count < CacheLimit)
        {
            Cache.TryAdd(text, parsed);
        }

        return parsed;
    }

    public bool Evaluate(ExpressionScope scope) => root.IsTrue(scope);

    public override string ToString() => Text;
}
