using System.Text.Json;
using LlmWorkflow.Api.Auth;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// The per-user rate limit must know the user before the endpoint runs, but the documents' clients name the user
/// only in the submission body (<c>user_id</c>), not in <c>X-User-Id</c>. When rate limiting is on, this reads the
/// top-level <c>user_id</c> of a JSON submission (the body stays readable for the endpoint) so the limiter keys on it.
/// </summary>
public static class SubmissionUserPeek
{
    private const string ItemKey = "llmwf:body-user-id";

    /// <summary>The user a request acts for: the query's user_id, the X-User-Id header, else the submission body's user_id.</summary>
    public static string? UserOf(HttpContext http) =>
        CallerScope.From(http).UserId ?? http.Items[ItemKey] as string;

    public static IApplicationBuilder UseSubmissionUserPeek(this IApplicationBuilder app, RateLimitingOptions options) =>
        !options.Enabled ? app : app.Use(async (context, next) =>
        {
            if (IsJsonSubmission(context.Request) && CallerScope.From(context).UserId is null)
            {
                context.Request.EnableBuffering();
                try
                {
                    using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
                    if (body.RootElement.ValueKind == JsonValueKind.Object
                        && body.RootElement.TryGetProperty("user_id", out var user) && user.ValueKind == JsonValueKind.String)
                    {
                        context.Items[ItemKey] = user.GetString();
                    }
                }
                catch (JsonException)
                {
                    // Malformed bodies are the endpoint's to report (400 naming the field); here they just have no user.
                }

                context.Request.Body.Position = 0;
            }

            await next(context);
        });

    private static bool IsJsonSubmission(HttpRequest request) =>
        HttpMethods.IsPost(request.Method)
        && request.HasJsonContentType()
        && (request.Path.Equals("/api/v1/workflow", StringComparison.OrdinalIgnoreCase)
            || request.Path.Equals("/api/v1/jobs", StringComparison.OrdinalIgnoreCase));
}
