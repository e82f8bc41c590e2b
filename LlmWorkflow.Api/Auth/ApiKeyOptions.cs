namespace LlmWorkflow.Api.Auth;

/// <summary>
/// API keys (configuration section <c>Auth</c>), plus the documents' environment variables
/// <c>LLM_MICROSERVICE_API_KEY</c> (caller scope) and <c>ADMIN_API_KEY</c> (admin scope).
/// </summary>
public sealed class ApiKeyOptions
{
    public const string Section = "Auth";

    public List<ApiKeyEntry> ApiKeys { get; set; } = [];

    /// <summary>Accept requests without a key (local experiments only). Off by default: the API refuses to start with no keys.</summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>
    /// How long an API instance reuses a database key lookup (0 to 60 s, default 5 s; 0 looks up every request). The
    /// bound on how long another instance still accepts a key after it was revoked or its rotation overlap ended early.
    /// </summary>
    public TimeSpan KeyCacheTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the last use of database keys is written (0.1 s to 1 h, default 30 s): one statement for all keys.</summary>
    public TimeSpan KeyUsageFlushInterval { get; set; } = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan MaxKeyCacheTtl = TimeSpan.FromSeconds(60);

    /// <summary>Refuses settings outside their documented ranges at start-up.</summary>
    public void Validate()
    {
        if (KeyCacheTtl < TimeSpan.Zero || KeyCacheTtl > MaxKeyCacheTtl)
        {
            throw new InvalidOperationException($"Auth:KeyCacheTtl must be between 00:00:00 and 00:01:00 (it is {KeyCacheTtl}).");
        }

        if (KeyUsageFlushInterval < TimeSpan.FromMilliseconds(100) || KeyUsageFlushInterval > TimeSpan.FromHours(1))
        {
            throw new InvalidOperationException($"Auth:KeyUsageFlushInterval must be between 00:00:00.100 and 01:00:00 (it is {KeyUsageFlushInterval}).");
        }
    }
}

/// <summary>
/// One accepted key: a name for logs and rate-limit partitions (the key itself is never logged), its scope, its
/// tenant and optionally the one user it acts for.
/// </summary>
public sealed class ApiKeyEntry
{
    public string Name { get; set; } = "";

    public string Key { get; set; } = "";

    public bool Admin { get; set; }

    /// <summary>The tenant (application) whose jobs this key owns; defaults to the key's <see cref="Name"/>, so every key is its own tenant unless two entries name the same one.</summary>
    public string? Tenant { get; set; }

    /// <summary>When set, the key acts for this user only, whatever a request's <c>user_id</c> or <c>X-User-Id</c> says.</summary>
    public string? UserId { get; set; }

    public string TenantId => string.IsNullOrWhiteSpace(Tenant) ? Name : Tenant;
}
