using System.Text.Json.Nodes;

namespace LlmWorkflow.Worker.Webhooks;

/// <summary>What a terminal webhook payload is built from: the finished job row.</summary>
internal sealed record WebhookJobSnapshot(
    Guid Id,
    string WorkflowName,
    string Status,
    string? UserId,
    string? Username,
    string? Action,
    int Attempt,
    JsonNode? Result,
    JsonNode? Error,
    int? DurationMs,
    int TotalTokens,
    decimal CostUsd);
