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
}

/// <summary>One accepted key: a name for logs and rate-limit partitions (the key itself is never logged) and its scope.</summary>
public sealed class ApiKeyEntry
{
    public string Name { get; set; } = "";

    public string Key { get; set; } = "";

    public bool Admin { get; set; }
}
