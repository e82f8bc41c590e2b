using LlmWorkflow.Api.Auth;

namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// Body of <c>POST /api/v1/admin/keys</c>.
/// Init properties, not constructor parameters: System.Text.Json then reports a wrongly typed field with the field's
/// type (which the 400 turns into its JSON type) instead of the request's.
/// </summary>
public sealed record CreateApiKeyRequest
{
    public string? Name { get; init; }

    public string? TenantId { get; init; }

    public string? Role { get; init; }

    public string? UserId { get; init; }

    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>A database API key as listed: never its secret, only the prefix that identifies it.</summary>
public sealed record ApiKeyView(
    Guid Id,
    string TenantId,
    string Name,
    string Role,
    string? UserId,
    string Prefix,
    string State,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    DateTimeOffset? LastUsedAt,
    Guid? RotatedTo)
{
    public static ApiKeyView From(StoredApiKey key, DateTimeOffset now) => new(
        key.Id, key.TenantId, key.Name, key.Role, key.UserId, key.Prefix, key.StateAt(now), key.CreatedAt, key.ExpiresAt,
        key.RevokedAt, key.LastUsedAt, key.RotatedTo);
}

/// <summary>A new key: the secret, shown this once and never again, and the key's record.</summary>
public sealed record ApiKeyIssued(string ApiKey, ApiKeyView Key);

/// <summary>A rotation: the successor's secret (shown once), the successor, and the old key with the end of its overlap.</summary>
public sealed record ApiKeyRotated(string ApiKey, ApiKeyView Key, ApiKeyView Previous);

/// <summary>Database keys, newest first.</summary>
public sealed record ApiKeyList(IReadOnlyList<ApiKeyView> Keys);
