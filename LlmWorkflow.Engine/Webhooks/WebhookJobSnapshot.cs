using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Webhooks;

/// <summary>What a terminal webhook payload is built from: the finished job row.</summary>
public sealed record WebhookJobSnapshot(
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
