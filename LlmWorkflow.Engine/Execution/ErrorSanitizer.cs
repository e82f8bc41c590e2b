using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// Makes error details safe to store and send: values under secret-looking keys (api keys, tokens, passwords,
/// secrets, authorization, credentials) are redacted and long strings are cut to <see cref="MaxValueLength"/>.
/// </summary>
public static class ErrorSanitizer
{
    public const int MaxValueLength = 200;
    public const string Redacted = "[REDACTED]";

    public static JsonObject Sanitize(JsonObject details) => (JsonObject)SanitizeNode(details)!;

    public static WorkflowError Sanitize(WorkflowError error) =>
        error.Details is null ? error : error with { Details = Sanitize(error.Details) };

    /// <summary>Whether a property name looks like it holds a credential (<see cref="SecretNames"/>). <c>max_tokens</c> does not; <c>access_token</c> and <c>auth</c> do.</summary>
    public static bool IsSecretKey(string key) => SecretNames.IsSecret(key);

    private static JsonNode? SanitizeNode(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(
            p.Key,
            IsSecretKey(p.Key) && p.Value is not null ? JsonValue.Create(Redacted) : SanitizeNode(p.Value)))),
        JsonArray array => new JsonArray([.. array.Select(SanitizeNode)]),
        JsonValue value when value.TryGetValue<string>(out var text) && text.Length > MaxValueLength =>
            JsonValue.Create(string.Concat(text.AsSpan(0, MaxValueLength), "…")),
        _ => node?.DeepClone(),
    };
}
