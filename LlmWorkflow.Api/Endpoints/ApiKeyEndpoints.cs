using System.Text.RegularExpressions;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>
/// Admin-only routes under <c>/api/v1/admin/keys</c>: database API keys created, listed, rotated and revoked.
/// A key's secret is in the answer of create and rotate only; it is stored as a SHA-256 digest.
/// </summary>
internal static partial class ApiKeyEndpoints
{
    public const int DefaultOverlapSeconds = 86_400;
    public const int MaxOverlapSeconds = 604_800;
    private const int MaxNameLength = 100;
    private const int MaxUserIdLength = 255;
    private static readonly DateTimeOffset LatestExpiry = new(9000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static RouteGroupBuilder MapApiKeyEndpoints(this RouteGroupBuilder keys)
    {
        keys.MapPost("", CreateAsync)
            .WithName("CreateApiKey")
            .WithSummary("Create an API key; its secret is in this answer only")
            .WithDescription("name (required; 1-100 characters: letters, digits and . _ : @ -): identifies the key. " +
                             "tenant_id (same rules, default: the name): the application whose jobs the key owns. " +
                             "role: caller (default) or admin (sees every tenant). user_id (1-255 characters, caller keys only): " +
                             "binds the key to one user, whatever a request's X-User-Id or user_id says. expires_at (ISO 8601, in the future, before 9000): " +
                             "when the key stops working. The answer's api_key is the secret (lwk_...): store it now, it is never shown again.");
        keys.MapGet("", ListAsync)
            .WithName("ListApiKeys")
            .WithSummary("List API keys (never their secrets), newest first")
            .WithDescription("Every database key with its prefix, state (active, rotated, expired, revoked), times and successor. " +
                             "tenant_id (optional) lists one tenant's keys. Keys from configuration are not listed.");
        keys.MapGet("/{keyId:guid}", GetAsync)
            .WithName("GetApiKey")
            .WithSummary("One API key (never its secret)");
        keys.MapPost("/{keyId:guid}/rotate", RotateAsync)
            .WithName("RotateApiKey")
            .WithSummary("Issue a successor key; the old one keeps working for an overlap")
            .WithDescription($"The successor has the same tenant, name, role and bound user, and no expiry; its secret is in this answer only. " +
                             $"The old key stays valid for overlap_seconds (0-{MaxOverlapSeconds}, default {DefaultOverlapSeconds} = 24 h) or until " +
                             "its own earlier expiry, then stops working. 409 when the key is revoked, expired or already rotated (rotate its successor).");
        keys.MapPost("/{keyId:guid}/revoke", RevokeAsync)
            .WithName("RevokeApiKey")
            .WithSummary("Revoke an API key: it stops working at once")
            .WithDescription("Immediate on the API instance that answers; other instances stop accepting it within Auth:KeyCacheTtl (default 5 s). " +
                             "Revoking a revoked key changes nothing and answers 200.");
        return keys;
    }

    private static async Task<Results<Created<ApiKeyIssued>, ValidationProblem>> CreateAsync(
        CreateApiKeyRequest request, ApiKeyStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var errors = new Dictionary<string, string[]>();
        CheckName(errors, "name", request.Name, required: true);
        CheckName(errors, "tenant_id", request.TenantId, required: false);
        var role = request.Role ?? StoredApiKey.CallerRole;
        if (!StoredApiKey.Roles.Contains(role))
        {
            errors["role"] = [$"role must be one of: {string.Join(", ", StoredApiKey.Roles)}."];
        }

        if (request.UserId is not null)
        {
            if (request.UserId.Length is 0 or > MaxUserIdLength || string.IsNullOrWhiteSpace(request.UserId))
            {
                errors["user_id"] = [$"user_id must be 1-{MaxUserIdLength} characters, not only spaces."];
            }
            else if (role == StoredApiKey.AdminRole)
            {
                errors["user_id"] = ["An admin key sees every tenant, so it cannot be bound to a user: leave user_id out or use role caller."];
            }
        }

        if (request.ExpiresAt is { } expires && (expires <= now || expires >= LatestExpiry))
        {
            errors["expires_at"] = ["expires_at must be in the future and before the year 9000."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, detail: string.Join(" ", errors.Values.SelectMany(v => v)));
        }

        var secret = ApiKeySecret.New();
        var created = await store.InsertAsync(NewRow(secret, now) with
        {
            TenantId = string.IsNullOrEmpty(request.TenantId) ? request.Name! : request.TenantId,
            Name = request.Name!,
            Role = role,
            UserId = request.UserId,
            ExpiresAt = request.ExpiresAt?.ToUniversalTime(),
        }, cancellationToken);
        return TypedResults.Created($"/api/v1/admin/keys/{created.Id}", new ApiKeyIssued(secret, ApiKeyView.From(created, now)));
    }

    private static async Task<Ok<ApiKeyList>> ListAsync(
        [FromQuery(Name = "tenant_id")] string? tenantId, ApiKeyStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var keys = await store.ListAsync(string.IsNullOrEmpty(tenantId) ? null : tenantId, cancellationToken);
        return TypedResults.Ok(new ApiKeyList(keys.Select(k => ApiKeyView.From(k, now)).ToList()));
    }

    private static async Task<Results<Ok<ApiKeyView>, NotFoundProblem>> GetAsync(
        Guid keyId, ApiKeyStore store, TimeProvider time, CancellationToken cancellationToken) =>
        await store.GetAsync(keyId, cancellationToken) is { } key
            ? TypedResults.Ok(ApiKeyView.From(key, time.GetUtcNow()))
            : KeyNotFound(keyId);

    private static async Task<Results<Created<ApiKeyRotated>, ValidationProblem, NotFoundProblem, ConflictProblem>> RotateAsync(
        Guid keyId,
        [FromQuery(Name = "overlap_seconds")] int? overlapSeconds,
        ApiKeyStore store,
        DatabaseApiKeys databaseKeys,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (overlapSeconds is < 0 or > MaxOverlapSeconds)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["overlap_seconds"] = [$"overlap_seconds must be between 0 and {MaxOverlapSeconds} (7 days)."],
            });
        }

        var now = time.GetUtcNow();
        var secret = ApiKeySecret.New();
        var (outcome, old, successor) = await store.RotateAsync(
            keyId, NewRow(secret, now), now, now.AddSeconds(overlapSeconds ?? DefaultOverlapSeconds), cancellationToken);
        switch (outcome)
        {
            case RotateOutcome.Rotated:
                databaseKeys.Evict(old!);
                return TypedResults.Created($"/api/v1/admin/keys/{successor!.Id}",
                    new ApiKeyRotated(secret, ApiKeyView.From(successor, now), ApiKeyView.From(old!, now)));
            case RotateOutcome.NotActive:
                return new ConflictProblem(new ProblemDetails
                {
                    Title = "The key cannot be rotated",
                    Detail = old!.RotatedTo is { } next && old.ValidAt(now)
                        ? $"Key {keyId} was already rotated to {next}; rotate that key instead."
                        : $"Key {keyId} is {old.StateAt(now)}; create a new key instead.",
                    Status = StatusCodes.Status409Conflict,
                });
            default:
                return KeyNotFound(keyId);
        }
    }

    private static async Task<Results<Ok<ApiKeyView>, NotFoundProblem>> RevokeAsync(
        Guid keyId, ApiKeyStore store, DatabaseApiKeys databaseKeys, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (await store.RevokeAsync(keyId, now, cancellationToken) is not { } key)
        {
            return KeyNotFound(keyId);
        }

        databaseKeys.Evict(key);
        return TypedResults.Ok(ApiKeyView.From(key, now));
    }

    /// <summary>A row for a new secret; the caller fills in tenant, name, role, user and expiry.</summary>
    private static StoredApiKey NewRow(string secret, DateTimeOffset now) => new(
        Guid.Empty, "", "", StoredApiKey.CallerRole, null, ApiKeySecret.Prefix(secret), ApiKeySecret.Digest(secret), now, null, null, null, null);

    private static void CheckName(Dictionary<string, string[]> errors, string field, string? value, bool required)
    {
        if (string.IsNullOrEmpty(value))
        {
            if (required)
            {
                errors[field] = [$"{field} is required."];
            }
        }
        else if (value.Length > MaxNameLength || !NamePattern().IsMatch(value))
        {
            errors[field] = [$"{field} must be 1-{MaxNameLength} characters: letters, digits and . _ : @ - (starting with a letter or digit)."];
        }
    }

    private static NotFoundProblem KeyNotFound(Guid keyId) =>
        new(new ProblemDetails { Title = "API key not found", Detail = $"No API key with id {keyId}.", Status = StatusCodes.Status404NotFound });

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]
    private static partial Regex NamePattern();
}
