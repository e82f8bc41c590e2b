using System.Text.Json.Nodes;

namespace LlmWorkflow.Api.Webhooks;

/// <summary>One recorded attempt as the admin API shows it (the signing secret is never stored with attempts).</summary>
public sealed record WebhookAttemptView(
    Guid Id,
    Guid JobId,
    string EventId,
    string EventType,
    int AttemptNumber,
    string WebhookUrl,
    string State,
    int? HttpStatus,
    string? ResponseBody,
    string? ErrorMessage,
    DateTimeOffset AttemptedAt,
    int? DurationMs,
    DateTimeOffset? NextRetryAt,
    DateTimeOffset CreatedAt,
    JsonNode? Payload);
