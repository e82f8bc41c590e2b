namespace LlmWorkflow.Api.Auth;

/// <summary>One row of <c>llm_api_keys</c>: everything about a database key except its secret, which is not stored.</summary>
public sealed record StoredApiKey(
    Guid Id,
    string TenantId,
    string Name,
    string Role,
    string? UserId,
    string Prefix,
    byte[] SecretHash,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    DateTimeOffset? LastUsedAt,
    Guid? RotatedTo)
{
    public const string CallerRole = "caller";
    public const string AdminRole = "admin";
    public static readonly string[] Roles = [CallerRole, AdminRole];

    /// <summary>The lifecycle states a key is reported in.</summary>
    public static readonly string[] States = ["active", "rotated", "expired", "revoked"];

    public bool ValidAt(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is null || ExpiresAt > now);

    /// <summary>revoked, expired, rotated (a successor exists; still valid until expires_at) or active.</summary>
    public string StateAt(DateTimeOffset now) =>
        RevokedAt is not null ? "revoked" : ExpiresAt <= now ? "expired" : RotatedTo is not null ? "rotated" : "active";

    /// <summary>The key as authentication sees it: its tenant, role and bound user, exactly like a configured key.</summary>
    public ApiKeyEntry ToEntry() => new()
    {
        // Logs and rate-limit partitions use the name; tenant-qualified so it cannot share a configured key's partition.
        Name = $"{TenantId}/{Name}",
        Tenant = TenantId,
        Admin = Role == AdminRole,
        UserId = UserId,
    };
}
