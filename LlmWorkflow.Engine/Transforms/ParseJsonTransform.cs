using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>parse_json</c>: parses JSON out of an LLM answer, tolerating <c>```json</c> fences, prose before and after,
/// comments and trailing commas. Tried in order: the whole text, the first fenced block, the first balanced
/// <c>{...}</c> that parses, the first balanced <c>[...]</c> that parses. Input that is already an object or array
/// passes through. Failure is a USER_ERROR <c>parse_error</c> with a snippet.
/// </summary>
internal sealed class ParseJsonTransform : TransformBase
{
    private const int SnippetLength = 200;

    /// <summary>Bounds the work on long answers full of brackets that are not JSON.</summary>
    private const int MaxCandidates = 32;

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

        if (TryParse(text.Trim(), out var whole) || TryParseFenced(text, out whole))
        {
            return whole;
        }

        // Objects first: prose before the answer often holds bracketed asides such as "[1]" that parse as arrays.
        if (TryParseEmbedded(text, '{', out var embedded) || TryParseEmbedded(text, '[', out embedded))
        {
            return embedded;
        }

        var snippet = text.Length > SnippetLength ? text[..SnippetLength] + "…" : text;
        throw WorkflowException.User("parse_error", $"{Name}: no JSON object or array found in the input: \"{snippet}\"",
            "Ask the model to answer with a single JSON object, optionally in a ```json block");
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config) => [];

    private static bool TryParseFenced(string text, out JsonNode? result)
    {
        result = null;
        var fence = text.IndexOf("```", StringComparison.Ordinal);
        var contentStart = fence < 0 ? -1 : text.IndexOf('\n', fence);
        var closing = contentStart < 0 ? -1 : text.IndexOf("```", contentStart, StringComparison.Ordinal);
        return closing > 0 && TryParse(text[contentStart..closing].Trim(), out result);
    }

    private static bool TryParseEmbedded(string text, char opening, out JsonNode? result)
    {
        result = null;
        var start = text.IndexOf(opening);
        for (var attempt = 0; start >= 0 && attempt < MaxCandidates; attempt++)
        {
            if (FindBalancedEnd(text, start) is { } end && TryParse(text[start..(end + 1)], out result))
            {
                return true;
            }

            start = text.IndexOf(opening, start + 1);
        }

        return false;
    }

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
