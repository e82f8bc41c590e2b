using System.Security.Claims;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Auth;

/// <summary>
/// Object-level authorization. Every caller key belongs to a tenant and sees only that tenant's jobs; within it, a
/// user (bound to the key, else the <c>X-User-Id</c> header, else the <c>user_id</c> query parameter) narrows further.
/// A user named twice with different values matches nothing, so a query parameter can never widen what the key or
/// header allow. Anything outside the scope is indistinguishable from a missing job (404). Admin keys see everything.
/// </summary>
public sealed record CallerScope(string TenantId, string? UserId, bool IsAdmin, bool Contradictory = false)
{
    public const string UserHeader = "X-User-Id";
    public const string TenantClaim = "llmwf:tenant";
    public const string BoundUserClaim = "llmwf:user";
    public const string AnonymousTenant = "anonymous";

    public static CallerScope From(HttpContext http)
    {
        var tenant = http.User.FindFirstValue(TenantClaim) ?? AnonymousTenant;
        var admin = http.User.IsAdmin();
        string? user = null;
        var contradictory = false;
        foreach (var candidate in new[]
                 {
                     http.User.FindFirstValue(BoundUserClaim),
                     http.Request.Headers[UserHeader].FirstOrDefault(),
                     http.Request.Query["user_id"].FirstOrDefault(),
                 })
        {
            if (string.IsNullOrEmpty(candidate))
            {
                continue;
            }

            if (user is null)
            {
                user = candidate;
            }
            else if (user != candidate)
            {
                contradictory = true;
            }
        }

        return new CallerScope(tenant, user, admin, contradictory);
    }

    /// <summary>The user bound to the caller's key, which overrides whatever the request says.</summary>
    public static string? BoundUser(HttpContext http) => http.User.FindFirstValue(BoundUserClaim);

    /// <summary>The tenant filter for queries: null for admins (all tenants).</summary>
    public string? TenantFilter => IsAdmin ? null : TenantId;

    public bool CanSee(WorkflowJob job) => CanSee(job.TenantId, job.UserId);

    /// <summary>Admins read any job; everyone else only their tenant's, narrowed to their user when one is named.</summary>
    public bool CanSee(string jobTenant, string? jobUser) =>
        IsAdmin || (!Contradictory && jobTenant == TenantId && (UserId is null || jobUser == UserId));
}
