using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// A classified failure, as stored on a job and sent in webhooks:
/// <c>{type, category, message, retryable, retry_after, step_id, details, suggestions}</c>.
/// </summary>
public sealed record WorkflowError
{
    /// <summary>Machine-readable type, e.g. <c>rate_limited</c>, <c>missing_api_key</c>, <c>parse_error</c>.</summary>
    public required string Type { get; init; }

    public required ErrorCategory Category { get; init; }

    public required string Message { get; init; }

    public bool Retryable { get; init; }

    /// <summary>Seconds the caller should wait before retrying, when the failing party said so.</summary>
    public double? RetryAfterSeconds { get; init; }

    public string? StepId { get; init; }

    /// <summary>Sanitized context (secrets redacted, long values cut); never raw credentials.</summary>
    public JsonObject? Details { get; init; }

    public IReadOnlyList<string> Suggestions { get; init; } = [];
}
