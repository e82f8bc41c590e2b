using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.StructuredOutput;

/// <summary>
/// A model's JSON answer checked against a step's schema: parsed (tolerating the <c>```json</c> fences models add),
/// validated, and — when it fails — the repair turn's message and the final <c>schema_mismatch</c> error.
/// </summary>
public sealed record StructuredAnswer(JsonNode? Json, IReadOnlyList<SchemaViolation> Violations)
{
    /// <summary>The error type of an answer still invalid after its repair turn.</summary>
    public const string SchemaMismatchType = "schema_mismatch";

    /// <summary>The error type of an answer that is not JSON at all (without a schema, or still after the repair turn).</summary>
    public const string ParseErrorType = "json_parse_error";

    public bool IsValid => Violations.Count == 0;

    /// <summary>Parses <paramref name="text"/> and validates it against <paramref name="schema"/> (when there is one).</summary>
    public static StructuredAnswer Check(string text, StructuredOutputSchema? schema)
    {
        var body = StripFences(text);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            return new StructuredAnswer(null, [new SchemaViolation("", $"The answer is not valid JSON: {ex.Message}")]) { NotJson = true };
        }

        using (document)
        {
            var violations = schema?.Validate(document.RootElement) ?? [];
            return new StructuredAnswer(JsonNode.Parse(body), violations);
        }
    }

    /// <summary>The answer could not be parsed at all.</summary>
    public bool NotJson { get; init; }

    /// <summary>
    /// The user turn of the one repair attempt: each violation as a JSON pointer and a message, then the ask to answer
    /// again with corrected JSON only.
    /// </summary>
    public string RepairPrompt()
    {
        var text = new StringBuilder("Your previous answer does not match the required JSON schema. Errors (JSON pointer: problem):\n");
        foreach (var violation in Violations.Take(StructuredOutputSchema.MaxReported))
        {
            text.Append("- ").Append(violation).Append('\n');
        }

        if (Violations.Count > StructuredOutputSchema.MaxReported)
        {
            text.Append("- … and ").Append(Violations.Count - StructuredOutputSchema.MaxReported).Append(" more.\n");
        }

        return text.Append("Answer again with only the corrected JSON document, no prose and no code fences.").ToString();
    }

    /// <summary>The step's failure after the repair turn: it names the failing paths and carries each violation in details.</summary>
    public WorkflowException Failure(string stepId, int repairTurns)
    {
        var shown = Violations.Take(StructuredOutputSchema.MaxReported).ToList();
        var paths = shown.Select(v => v.DisplayPath).Distinct().ToList();
        var details = new JsonObject
        {
            ["paths"] = new JsonArray([.. paths.Select(p => (JsonNode)p)]),
            ["errors"] = new JsonArray([.. shown.Select(v => (JsonNode)new JsonObject { ["path"] = v.Path, ["message"] = v.Message })]),
            ["error_count"] = Violations.Count,
            ["repair_turns"] = repairTurns,
        };
        var message = NotJson
            ? $"The model's answer to step \"{stepId}\" is not valid JSON after {repairTurns} repair turn(s): {Violations[0].Message}"
            : $"The model's answer to step \"{stepId}\" does not match its json_schema after {repairTurns} repair turn(s) at {string.Join(", ", paths)}: "
                + string.Join("; ", shown.Take(5));
        return new WorkflowException(new WorkflowError
        {
            Type = NotJson ? ParseErrorType : SchemaMismatchType,
            Category = ErrorCategory.ExternalError,
            Message = message,
            Retryable = true,
            StepId = stepId,
            Details = details,
        });
    }

    private static string StripFences(string text)
    {
        var body = text.Trim();
        if (body.StartsWith("```", StringComparison.Ordinal))
        {
            var firstLineEnd = body.IndexOf('\n', StringComparison.Ordinal);
            var closing = body.LastIndexOf("```", StringComparison.Ordinal);
            body = firstLineEnd > 0 && closing > firstLineEnd ? body[(firstLineEnd + 1)..closing] : body.Trim('`');
        }

        return body;
    }
}
