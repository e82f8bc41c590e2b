using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using LlmWorkflow.Api.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Api.Auth;

/// <summary>
/// Authenticates <c>X-API-Key</c> or <c>X-API-Secret</c> against the configured keys, then (for keys shaped like
/// one) the database keys. Keys are compared as SHA-256 digests with <see cref="CryptographicOperations.FixedTimeEquals"/>
/// and every configured key is checked, so timing reveals neither a key's content nor which key matched.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyRegistry registry,
    DatabaseApiKeys databaseKeys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string AdminClaim = "llmwf:admin";
    public static readonly string[] HeaderNames = ["X-API-Key", "X-API-Secret"];

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? presented = null;
        foreach (var header in HeaderNames)
        {
            if (Request.Headers.TryGetValue(header, out var value) && !string.IsNullOrEmpty(value))
            {
                presented = value.ToString();
                break;
            }
        }

        // EventSource cannot send headers, so the live events routes (/api/v1's and the generator's /events/stream)
        // also accept ?api_key=.
        if (presented is null && Request.Path.Value is { } path
            && (path.EndsWith("/events", StringComparison.Ordinal) || path.EndsWith("/events/stream", StringComparison.Ordinal))
            && Request.Query.TryGetValue("api_key", out var queryKey) && !string.IsNullOrEmpty(queryKey))
        {
            presented = queryKey.ToString();
        }

        if (presented is null)
        {
            return registry.AllowAnonymous
                ? AuthenticateResult.Success(Ticket(new ApiKeyEntry { Name = CallerScope.AnonymousTenant }))
                : AuthenticateResult.NoResult();
        }

        var digest = ApiKeySecret.Digest(presented);
        var match = registry.Find(digest);
        if (match is null && ApiKeySecret.LooksLikeDatabaseKey(presented))
        {
            match = (await databaseKeys.FindAsync(digest, Context.RequestAborted))?.ToEntry();
        }

        return match is null
            ? AuthenticateResult.Fail("Invalid API key.")
            : AuthenticateResult.Success(Ticket(match));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        await Results.Problem(
            title: "Unauthorized",
            detail: "Send a valid API key in the X-API-Key (or X-API-Secret) header.",
            statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Results.Problem(
            title: "Forbidden",
            detail: "This route needs an admin API key.",
            statusCode: StatusCodes.Status403Forbidden).ExecuteAsync(Context);
    }

    private AuthenticationTicket Ticket(ApiKeyEntry key)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, key.Name), new(CallerScope.TenantClaim, key.TenantId) };
        if (key.Admin)
        {
            claims.Add(new Claim(AdminClaim, "true"));
        }

        if (!string.IsNullOrEmpty(key.UserId))
        {
            claims.Add(new Claim(CallerScope.BoundUserClaim, key.UserId));
        }

        return new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName);
    }
}

/// <summary>
/// The configured keys, kept only as SHA-256 digests in memory (the plain key is dropped after start-up). Each
/// entry is its own tenant (its <c>Name</c>) unless it names a <c>Tenant</c> to share.
/// </summary>
public sealed class ApiKeyRegistry
{
    private readonly (byte[] Digest, ApiKeyEntry Entry)[] _keys;

    public ApiKeyRegistry(IOptions<ApiKeyOptions> options, IConfiguration configuration)
    {
        var entries = options.Value.ApiKeys.Where(k => !string.IsNullOrEmpty(k.Key)).ToList();
        if (configuration["LLM_MICROSERVICE_API_KEY"] is { Length: > 0 } callerKey)
        {
            entries.Add(new ApiKeyEntry { Name = "main-app", Key = callerKey });
        }

        if (configuration["ADMIN_API_KEY"] is { Length: > 0 } adminKey)
        {
            entries.Add(new ApiKeyEntry { Name = "admin", Key = adminKey, Admin = true });
        }

        if (entries.FirstOrDefault(e => string.IsNullOrWhiteSpace(e.Name)) is not null)
        {
            throw new InvalidOperationException("Every Auth:ApiKeys entry needs a Name: it identifies the key in logs and is its tenant unless Tenant is set.");
        }

        options.Value.Validate();
        AllowAnonymous = options.Value.AllowAnonymous;
        if (entries.Count == 0 && !AllowAnonymous)
        {
            throw new InvalidOperationException(
                "No API keys are configured. Set LLM_MICROSERVICE_API_KEY (and ADMIN_API_KEY for admin routes), or Auth:ApiKeys, " +
                "or Auth:AllowAnonymous=true for a local experiment.");
        }

        _keys = entries.Select(e => (ApiKeySecret.Digest(e.Key), Entry: new ApiKeyEntry
        {
            Name = e.Name, Admin = e.Admin, Tenant = e.Tenant, UserId = e.UserId, Key = "",
        })).ToArray();
    }

    public bool AllowAnonymous { get; }

    /// <param name="digest">The presented key's SHA-256 digest (<see cref="ApiKeySecret.Digest"/>).</param>
    public ApiKeyEntry? Find(byte[] digest)
    {
        ApiKeyEntry? match = null;
        foreach (var (candidate, entry) in _keys)
        {
            // No early exit: every key is compared, in constant time.
            if (CryptographicOperations.FixedTimeEquals(candidate, digest))
            {
                match = entry;
            }
        }

        return match;
    }
}
