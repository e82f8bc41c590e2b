using LlmWorkflow.Engine.Jobs;

namespace LlmWorkflow.Api.Auth;

/// <summary>
/// Object-level authorization: when a caller names its user (<c>user_id</c> query parameter or <c>X-User-Id</c>
/// header), it only sees that user's jobs — another user's job is indistinguishable from a missing one (404).
/// Admin keys see everything.
/// </summary>
public sealed record CallerScope(string? UserId, bool IsAdmin)
{
    public const string UserHeader = "X-User-Id";

    public static CallerScope From(HttpContext http)
    {
        var user = http.Request.Query["user_id"].FirstOrDefault() ?? http.Request.Headers[UserHeader].FirstOrDefault();
        return new CallerScope(string.IsNullOrEmpty(user) ? null : user, http.User.IsAdmin());
    }

    public bool CanSee(WorkflowJob job) => IsAdmin || UserId is null || job.UserId == UserId;
}
