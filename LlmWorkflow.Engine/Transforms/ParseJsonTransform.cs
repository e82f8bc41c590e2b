using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>parse_json</c>: parses JSON out of an LLM answer, tolerating <c>```json</c> fences, prose before and after,
/// comments and trailing commas: the first balanced <c>{...}</c> or <c>[...]</c> that parses wins. Input that is
/// already an object or array passes through. Failure is a USER_ERROR <c>parse_error</c> with a snippet.
/// </summary>
internal sealed class ParseJsonTransform : TransformBase
{
    private const int SnippetLength = 200;

    private static readonly JsonDocumentOptions Lenient = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };

    public override string Name => "parse_json";

    public override string Description => "Parse JSON from text, tolerating ```json fences and surrounding prose: {\"input\": \"${steps.llm.output.text}\"}";

    protected override JsonNode? Apply(TransformCall call)
    {
        var input = call.Input();
        if (input is JsonObject or JsonArray)
        {
            return input.DeepClone();
        }

        if (input is not JsonValue value || !value.TryGetValue<string>(out var text))
        {
            throw call.InputProblem("a string holding JSON", input);
        }

        if (TryParse(text.Trim(), out var whole))
        {
            return whole;
        }

        for (var start = text.IndexOfAny(['{', '[']); start >= 0; start = text.IndexOfAny(['{', '['], start + 1))
        {
            if (FindBalancedEnd(text, start) is { } end && TryParse(text[start..(end + 1)], out var embedded))
            {
                return embedded;
            }
        }

        var snippet = text.Length > SnippetLength ? text[..SnippetLength] + "…" : text;
        throw WorkflowException.User("parse_error", $"{Name}: no JSON object or array found in the input: \"{snippet}\"",
            "Ask the model to answer with a single JSON object, optionally in a ```json block");
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config) => [];

    private static bool TryParse(string candidate, out JsonNode? result)
    {
        result = null;
        if (candidate.Length == 0 || candidate[0] is not ('{' or '['))
        {
            return false;
        }

        try
        {
            result = JsonNode.Parse(candidate, documentOptions: Lenient);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The index of the bracket closing the one at <paramref name="start"/>, skipping brackets inside strings.</summary>
    private static int? FindBalancedEnd(string text, int start)
    {
        var depth = 0;
        var inString = false;
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }
            }
            else if (c == '"')
            {
                inString = true;
            }
            else if (c is '{' or '[')
            {
                depth++;
            }
            else if (c is '}' or ']' && --depth == 0)
            {
                return i;
            }
        }

        return null;
    }
}
