using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// A parsed reference into an <see cref="ExpressionScope"/>: a root (<c>input</c>, <c>steps.&lt;id&gt;.output</c>,
/// <c>context</c>, <c>item</c>, <c>index</c>) followed by a <see cref="FieldPath"/>, optionally marked <c>?</c>.
/// </summary>
internal sealed class ScopePath
{
    public const string RootsHint = "a path starting with input, steps, context, item or index";

    private ScopePath(string root, string? stepId, FieldPath tail, bool optional)
    {
        Root = root;
        StepId = stepId;
        Tail = tail;
        Optional = optional;
        RootText = stepId is null ? root : $"steps.{stepId}.output";
        var tailText = tail.ToString();
        Text = tailText.Length == 0 ? RootText : tailText.StartsWith('[') ? RootText + tailText : $"{RootText}.{tailText}";
    }

    public string Root { get; }

    public string? StepId { get; }

    public FieldPath Tail { get; }

    /// <summary>Marked with a trailing <c>?</c>: a missing value is null instead of an error.</summary>
    public bool Optional { get; }

    /// <summary><c>input</c>, <c>context</c>, ... or <c>steps.&lt;id&gt;.output</c>.</summary>
    public string RootText { get; }

    /// <summary>The normalized path, e.g. <c>steps.fetch.output.results[0].name</c>.</summary>
    public string Text { get; }

    public static bool IsRootName(string name) => name is "input" or "steps" or "context" or "item" or "index";

    /// <summary>Reads a path starting at <paramref name="pos"/>, including an optional trailing <c>?</c>.</summary>
    public static ScopePath Read(string text, ref int pos)
    {
        var rootStart = pos;
        var root = PathScanner.ReadName(text, ref pos);
        if (!IsRootName(root))
        {
            throw ExpressionSyntaxException.At(text, rootStart, RootsHint);
        }

        string? stepId = null;
        if (root == "steps")
        {
            stepId = ReadStepRoot(text, ref pos);
        }

        var segments = new List<PathSegment>();
        PathScanner.ReadSegments(text, ref pos, segments);
        if (root == "index" && segments.Count > 0)
        {
            throw ExpressionSyntaxException.At(text, rootStart + root.Length, "nothing after 'index' (it is a number)");
        }

        var optional = pos < text.Length && text[pos] == '?';
        if (optional)
        {
            pos++;
        }

        return new ScopePath(root, stepId, segments.Count == 0 ? FieldPath.Self : new FieldPath([.. segments]), optional);
    }

    /// <summary>
    /// The value at this path. A missing value is null when <paramref name="throwIfMissing"/> is false or the path
    /// is optional; otherwise a USER_ERROR <c>missing_value</c> naming the path and the first missing segment.
    /// </summary>
    public JsonNode? Evaluate(ExpressionScope scope, bool throwIfMissing)
    {
        JsonNode? start;
        switch (Root)
        {
            case "input":
                start = scope.Input;
                break;
            case "context":
                start = scope.Context;
                break;
            case "index":
                return scope.HasItem ? JsonValue.Create(scope.Index) : Missing(throwIfMissing, "index is only available inside for_each, filter and map");
            case "item":
                if (!scope.HasItem)
                {
                    return Missing(throwIfMissing, "item is only available inside for_each, filter and map");
                }

                start = scope.Item;
                break;
            default:
                if (!scope.TryGetStepOutput(StepId!, out start))
                {
                    return Missing(throwIfMissing, $"step '{StepId}' has no output (it has not run yet, or there is no such step)");
                }

                break;
        }

        if (Tail.TryWalk(start, 0, out var value, out var failedAt, out var container))
        {
            return value;
        }

        if (!throwIfMissing || Optional)
        {
            return null;
        }

        var prefix = Tail.Describe(failedAt);
        var where = prefix.Length == 0 ? RootText : prefix.StartsWith('[') ? RootText + prefix : $"{RootText}.{prefix}";
        var why = container switch
        {
            null => " (it is null)",
            JsonArray array => $" (it has {array.Count} items)",
            JsonObject => string.Empty,
            _ => $" (it is a {JsonValueSemantics.KindName(container)})",
        };
        return Missing(true, $"'{Tail.Segments[failedAt]}' does not exist in {where}{why}");
    }

    private JsonNode? Missing(bool throwIfMissing, string reason) =>
        throwIfMissing && !Optional
            ? throw WorkflowException.User(
                "missing_value",
                $"${{{Text}}}: {reason}",
                "Check the workflow input and the earlier step outputs, or mark the reference optional with a trailing '?'")
            : null;

    private static string ReadStepRoot(string text, ref int pos)
    {
        if (pos >= text.Length || text[pos] != '.')
        {
            throw ExpressionSyntaxException.At(text, pos, "'.<step id>' after 'steps'");
        }

        pos++;
        var stepId = PathScanner.ReadName(text, ref pos);
        if (stepId.Length == 0)
        {
            throw ExpressionSyntaxException.At(text, pos, "a step id after 'steps.'");
        }

        var outputStart = pos;
        if (pos < text.Length && text[pos] == '.')
        {
            pos++;
            if (PathScanner.ReadName(text, ref pos) == "output")
            {
                return stepId;
            }
        }

        throw ExpressionSyntaxException.At(text, outputStart, $"'.output' after 'steps.{stepId}'");
    }
}
