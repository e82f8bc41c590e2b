using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// A workflow's <c>concurrency</c>: at most <see cref="Limit"/> of its jobs with the same <see cref="Key"/> (within a
/// tenant) run at once, e.g. <c>{"key": "${input.user_id}", "limit": 1}</c> runs one job per user at a time; the others
/// wait without a worker slot (docs/ADMISSION.md, "Concurrency keys").
/// </summary>
public sealed record WorkflowConcurrency
{
    public const string InvalidCode = "invalid_concurrency";
    public const int MaxLimit = 10_000;

    /// <summary>The longest key a job may resolve to (characters).</summary>
    public const int MaxKeyLength = 200;

    /// <summary>A template over <c>input</c> and <c>context</c> (the job's user_id, username, action, priority).</summary>
    [JsonPropertyName("key")]
    public string Key { get; init; } = "";

    [JsonPropertyName("limit")]
    public int Limit { get; init; } = 1;

    /// <summary>Problems with the definition's <c>concurrency</c> (empty when it is valid or absent).</summary>
    public static IEnumerable<ValidationProblem> Problems(WorkflowDefinition workflow, string source)
    {
        if (workflow.Concurrency is not { } concurrency)
        {
            yield break;
        }

        if (concurrency.Limit is < 1 or > MaxLimit)
        {
            yield return new(source, "$.concurrency.limit", InvalidCode,
                $"concurrency.limit must be between 1 and {MaxLimit}; got {concurrency.Limit}.", "Use 1 to run one job per key at a time.");
        }

        if (KeyProblem(concurrency.Key) is { } problem)
        {
            yield return new(source, "$.concurrency.key", InvalidCode, problem, "Write e.g. \"${input.user_id}\" or \"${context.user_id}\".");
        }
    }

    /// <summary>
    /// The key of a job with this input and context, or null when it resolves to nothing (a field the input lacks).
    /// </summary>
    public string? KeyFor(JsonNode? input, JsonObject context)
    {
        var key = TextTemplate.Parse(Key).Render(new ExpressionScope(input, new Dictionary<string, JsonNode?>(), context), throwIfMissing: false);
        return string.IsNullOrWhiteSpace(key) ? null : key;
    }

    /// <summary>
    /// The key of a job with this input and context, or why it has none (a field the input lacks, or a key longer than
    /// <see cref="MaxKeyLength"/>): what a submission is refused with, naming <c>input_data</c>.
    /// </summary>
    public (string? Key, string? Problem) Resolve(JsonNode? input, JsonObject context) => KeyFor(input, context) switch
    {
        null => (null, $"The workflow runs at most {Limit} job(s) per {Key} at once, and this input gives it no value."),
        { Length: > MaxKeyLength } key => (null, $"{Key} (the workflow's concurrency key) is {key.Length} characters for this input; at most {MaxKeyLength}."),
        var key => (key, null),
    };

    /// <summary>
    /// A job's key as stored: scoped to its tenant and workflow, so that equal keys of two tenants (or two workflows)
    /// never share a limit.
    /// </summary>
    public static string Scoped(string tenantId, string workflowName, string key) => $"{tenantId}/{workflowName}/{key}";

    /// <summary>What a key's <c>context</c> may reference: the job's user_id, username, action and priority.</summary>
    public static JsonObject KeyContext(string? userId, string? username, string? action, int? priority) => new()
    {
        ["user_id"] = userId,
        ["username"] = username,
        ["action"] = action,
        ["priority"] = priority,
    };

    private static string? KeyProblem(string key)
    {
        if (string.IsNullOrWhiteSpace(key) || !TextTemplate.MayContainExpression(key))
        {
            return "concurrency.key must reference the job, e.g. ${input.user_id}: a constant key would make one queue of every job.";
        }

        try
        {
            var roots = TextTemplate.Parse(key).References("$.concurrency.key").Select(r => r.Root).Distinct().ToList();
            return roots.FirstOrDefault(r => r is not ("input" or "context")) is { } other
                ? $"concurrency.key may reference input and context only (it is resolved when the job is submitted); got {other}."
                : null;
        }
        catch (ExpressionSyntaxException ex)
        {
            return $"concurrency.key is not a valid template: {ex.Message}";
        }
    }
}
