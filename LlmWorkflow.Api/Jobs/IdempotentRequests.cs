using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Api.Contracts;
using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Jobs;

/// <summary>
/// The <c>Idempotency-Key</c> rules of job submissions and schedule creation, as the IETF idempotency-key draft gives
/// them: a repeat of a request gets the answer the first one got (same status, same body), and the same key with a
/// different request is refused with 422. Requests are compared by a fingerprint: the SHA-256 of their canonical body.
/// </summary>
internal static class IdempotentRequests
{
    /// <summary>The API's wire rules (snake_case, nulls written), so the fingerprint covers what the caller sent.</summary>
    private static readonly JsonSerializerOptions Wire = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>
    /// SHA-256 (64 lowercase hex) of the request as canonical JSON: object keys sorted at every level, no whitespace
    /// (absent fields are written as null). Key order and formatting of the caller's JSON do not change it.
    /// </summary>
    public static string Fingerprint<T>(T request)
    {
        var canonical = LlmWorkflow.Engine.External.ExternalCacheKey.Canonical(JsonSerializer.SerializeToNode(request, Wire))?.ToJsonString() ?? "null";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>
    /// The time as PostgreSQL keeps it (whole microseconds): an answer that states a created_at says it as every later
    /// read of the row does, and a repeated answer says it the same.
    /// </summary>
    public static DateTimeOffset AsStored(DateTimeOffset time) => time.AddTicks(-(time.Ticks % TimeSpan.TicksPerMicrosecond));

    /// <summary>Whether a stored request matches this one; rows stored before fingerprints were kept match any.</summary>
    public static bool SameRequest(string? storedFingerprint, string fingerprint) =>
        storedFingerprint is null || string.Equals(storedFingerprint.Trim(), fingerprint, StringComparison.Ordinal);

    /// <summary>The header a repeated answer carries (Stripe's name), since its status and body are the first answer's.</summary>
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>Marks the answer as the replay of an earlier request with the same key.</summary>
    public static void MarkReplayed(HttpResponse response) => response.Headers[ReplayedHeader] = "true";

    /// <summary>The 422 for a key reused with another request: the problem names the header and the conflict.</summary>
    public static UnprocessableProblem Conflict(string key, string what) => new(new ProblemDetails
    {
        Title = "Idempotency-Key reused with a different request",
        Detail = $"The Idempotency-Key \"{key}\" was already used for another {what} request with a different body. " +
                 "Repeat that request unchanged to get its answer again, or send this one with a new key.",
        Type = "https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/",
        Extensions =
        {
            ["error"] = "idempotency_key_conflict",
            ["field"] = "Idempotency-Key",
        },
    });
}
