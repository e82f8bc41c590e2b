using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Contracts;

/// <summary>
/// The body of a terminal webhook (<c>workflow.completed | failed | cancelled</c>) in the documents' shape. Bodies
/// above the size cap carry a <see cref="TruncatedOutput"/> in place of <c>result.output</c>.
/// </summary>
/// <param name="Result"><c>{output, cost_data}</c> of a completed job; null otherwise.</param>
/// <param name="Error">The structured error of a failed or cancelled job; null when completed.</param>
public sealed record TerminalWebhookBody(
    string Event,
    string JobId,
    string Status,
    string WorkflowName,
    string? UserId,
    JsonNode? Result,
    TerminalWebhookMetadata Metadata,
    JsonNode? Error,
    [property: JsonConverter(typeof(UtcTimestampJsonConverter))] DateTimeOffset Timestamp);

/// <summary>The job's totals and caller identity in a terminal webhook.</summary>
public sealed record TerminalWebhookMetadata(
    int? DurationMs,
    int TotalTokens,
    decimal CostUsd,
    string? Username,
    string? Action,
    int Attempt)
{
    /// <summary>Document 001's name for <see cref="CostUsd"/> (the same figure); both are sent.</summary>
    public decimal TotalCostUsd => CostUsd;
}

/// <summary>What replaces an output too large for the webhook: fetch it from the status URL.</summary>
public sealed record TruncatedOutput(bool Truncated, int SizeBytes, string StatusUrl);
