using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Client;

/// <summary>Which kind of HTTP failure a <see cref="LlmWorkflowException"/> is: one per documented problem status.</summary>
public enum ProblemKind
{
    /// <summary>400: the request names a field that is wrong (see <see cref="LlmWorkflowValidationException.Errors"/>).</summary>
    Validation,

    /// <summary>401: no API key, or an unknown one.</summary>
    Authentication,

    /// <summary>403: an admin route with a caller key.</summary>
    Permission,

    /// <summary>404: no such job (or another tenant's), workflow or route.</summary>
    NotFound,

    /// <summary>409: the action does not fit the job's state.</summary>
    Conflict,

    /// <summary>410: the job was deleted.</summary>
    Gone,

    /// <summary>413: the body exceeds the service's limit.</summary>
    TooLarge,

    /// <summary>422: the Idempotency-Key was used before with another body.</summary>
    IdempotencyMismatch,

    /// <summary>429: wait <see cref="LlmWorkflowException.RetryAfter"/>.</summary>
    RateLimited,

    /// <summary>503: PostgreSQL or Redis unreachable; wait <see cref="LlmWorkflowException.RetryAfter"/>.</summary>
    Unavailable,

    /// <summary>Another 5xx.</summary>
    Server,

    /// <summary>Anything else.</summary>
    Unexpected,
}

/// <summary>The service answered with an error status; <see cref="Problem"/> is its problem+json body as sent.</summary>
public class LlmWorkflowException(ProblemKind kind, HttpStatusCode statusCode, JsonObject? problem, TimeSpan? retryAfter, string message)
    : Exception(message)
{
    public ProblemKind Kind { get; } = kind;

    public HttpStatusCode StatusCode { get; } = statusCode;

    public JsonObject? Problem { get; } = problem;

    /// <summary>The Retry-After of a 429 or 503, when sent.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    internal static async Task<LlmWorkflowException> FromResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var problem = ParseProblem(text);
        var message = (string?)problem?["detail"] ?? (string?)problem?["title"] ?? $"LlmWorkflow answered {(int)response.StatusCode}";
        var retryAfter = response.Headers.RetryAfter?.Delta;
        var status = response.StatusCode;
        return (int)status switch
        {
            400 => new LlmWorkflowValidationException(status, problem, message),
            401 => new LlmWorkflowAuthenticationException(status, problem, message),
            403 => new LlmWorkflowPermissionException(status, problem, message),
            404 => new LlmWorkflowNotFoundException(status, problem, message),
            409 => new LlmWorkflowConflictException(status, problem, message),
            410 => new LlmWorkflowGoneException(status, problem, message),
            413 => new LlmWorkflowException(ProblemKind.TooLarge, status, problem, null, message),
            422 => new LlmWorkflowIdempotencyMismatchException(status, problem, message),
            429 => new LlmWorkflowRateLimitedException(status, problem, retryAfter, message),
            503 => new LlmWorkflowUnavailableException(status, problem, retryAfter, message),
            >= 500 => new LlmWorkflowServerException(status, problem, message),
            _ => new LlmWorkflowException(ProblemKind.Unexpected, status, problem, retryAfter, message),
        };
    }

    private static JsonObject? ParseProblem(string text)
    {
        try
        {
            return JsonNode.Parse(text) as JsonObject;
        }
        catch (JsonException)
        {
            return new JsonObject { ["detail"] = text.Length > 500 ? text[..500] : text };
        }
    }
}

/// <summary>400: <see cref="Errors"/> lists the messages by JSON field name (e.g. <c>input_data.days</c>).</summary>
public sealed class LlmWorkflowValidationException(HttpStatusCode statusCode, JsonObject? problem, string message)
    : LlmWorkflowException(ProblemKind.Validation, statusCode, problem, null, message)
{
    public IReadOnlyDictionary<string, string[]> Errors { get; } =
        problem?["errors"]?.Deserialize<Dictionary<string, string[]>>() ?? [];
}

public sealed class LlmWorkflowAuthenticationException(HttpStatusCode statusCode, JsonObject? problem, string message)
    : LlmWorkflowException(ProblemKind.Authentication, statusCode, problem, null, message);

public sealed class LlmWorkflowPermissionException(HttpStatusCode statusCode, JsonObject? problem, string message)
    : LlmWorkflowException(ProblemKind.Permission, statusCode, problem, null, message);

public sealed class LlmWorkflowNotFoundException(HttpStatusCode statusCode, JsonObject? problem, string message)
    : LlmWorkflowException(ProblemKind.NotFound, statusCode, problem, null, message);

public sealed class LlmWorkflowConflictException(HttpStatusCode statusCode, JsonObject? problem, string message)
    : LlmWorkflowException(ProblemKind.Conflict, statusCode, problem, null, message);

public sealed class LlmWorkflowGoneException(HttpStatusCode statusCode, JsonObject? problem, string message)
    : LlmWorkflowException(ProblemKind.Gone, statusCode, problem, null, message);

public sealed class LlmWorkflowIdempotencyMismatchException(HttpStatusCode statusCode, JsonObject? problem, string message)
    : LlmWorkflowException(ProblemKind.IdempotencyMismatch, statusCode, problem, null, message);

public sealed class LlmWorkflowRateLimitedException(HttpStatusCode statusCode, JsonObject? problem, TimeSpan? retryAfter, string message)
    : LlmWorkflowException(ProblemKind.RateLimited, statusCode, problem, retryAfter, message);

public sealed class LlmWorkflowUnavailableException(HttpStatusCode statusCode, JsonObject? problem, TimeSpan? retryAfter, string message)
    : LlmWorkflowException(ProblemKind.Unavailable, statusCode, problem, retryAfter, message);

public sealed class LlmWorkflowServerException(HttpStatusCode statusCode, JsonObject? problem, string message)
    : LlmWorkflowException(ProblemKind.Server, statusCode, problem, null, message);

/// <summary>
/// A job ended failed or cancelled while the caller waited for it. <see cref="Category"/> is the service's error
/// taxonomy (<see cref="ErrorCategoryValues"/>): USER_ERROR (fix the input), CONFIG_ERROR (operators must fix the
/// service), EXTERNAL_ERROR (a provider failed: retry later), SYSTEM_ERROR (retry once).
/// </summary>
public sealed class LlmWorkflowJobFailedException(Guid jobId, string status, JsonNode? error)
    : Exception((string?)error?["message"] ?? $"job {jobId} ended {status}")
{
    public Guid JobId { get; } = jobId;

    /// <summary>failed or cancelled.</summary>
    public string Status { get; } = status;

    /// <summary>The job's error object (type, category, message, retryable, retry_after, step_id, details, suggestions).</summary>
    public JsonNode? Error { get; } = error;

    public string? Category => (string?)Error?["category"];

    public bool Retryable => Error?["retryable"] is JsonValue value && value.TryGetValue<bool>(out var retryable) && retryable;
}
