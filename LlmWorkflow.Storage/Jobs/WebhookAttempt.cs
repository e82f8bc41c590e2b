using System.Text.Json;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>A row of <c>llm_webhook_attempts</c>: one delivery attempt (the documents' columns plus event identity).</summary>
public sealed class WebhookAttempt
{
    public Guid Id { get; set; }

    public Guid JobId { get; set; }

    /// <summary>Standard Webhooks <c>webhook-id</c>: stable across all retries of one event.</summary>
    public string EventId { get; set; } = "";

    public string EventType { get; set; } = "";

    public int AttemptNumber { get; set; }

    public string WebhookUrl { get; set; } = "";

    public JsonDocument Payload { get; set; } = JsonDocument.Parse("{}");

    public int? HttpStatus { get; set; }

    public string? ResponseBody { get; set; }

    public string? ErrorMessage { get; set; }

    public DateTimeOffset AttemptedAt { get; set; }

    public int? DurationMs { get; set; }

    public DateTimeOffset? NextRetryAt { get; set; }

    /// <summary>pending, delivered, failed (will retry), dead_lettered, gone (410).</summary>
    public string State { get; set; } = "pending";

    public DateTimeOffset CreatedAt { get; set; }
}
