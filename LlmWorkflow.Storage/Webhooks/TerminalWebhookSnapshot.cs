using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Storage.Webhooks;

/// <summary>
/// What the finishing statement stores for a terminal webhook event: the finished row's raw values, the moment of
/// the transition and the size cap in force then. The body is rendered from it in C# (<see cref="WebhookBodies"/>)
/// wherever it is needed, and since nothing in it changes, every attempt of the event sends the same bytes.
/// Stored in <c>llm_webhook_attempts.payload</c> under the key <see cref="WebhookBodies.SnapshotKey"/>.
/// </summary>
internal sealed record TerminalWebhookSnapshot(
    Guid JobId,
    string Status,
    string WorkflowName,
    string? UserId,
    string? Username,
    string? Action,
    int Attempt,
    JsonNode? ResultData,
    JsonNode? ErrorData,
    int? DurationMs,
    int TotalTokens,
    decimal CostUsd,
    DateTimeOffset FinishedAt,
    int MaxPayloadBytes);

/// <summary>Storage form of <see cref="TerminalWebhookSnapshot"/>: the column names of the SQL that writes it.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(TerminalWebhookSnapshot))]
internal sealed partial class WebhookStorageJsonContext : JsonSerializerContext;
