using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>Per-user and per-key limits (configuration section <c>RateLimiting</c>).</summary>
public sealed class RateLimitingOptions
{
    public const string Section = "RateLimiting";

    /// <summary>Off by default, as the documents ask; the main app usually limits its own users.</summary>
    public bool Enabled { get; set; }

    /// <summary>Requests per minute for one user (user_id query, X-User-Id header, or a submission body's user_id), per API key.</summary>
    public int PerUserPerMinute { get; set; } = 60;

    /// <summary>Requests per minute for one API key across all its users.</summary>
    public int PerKeyPerMinute { get; set; } = 1_200;
}

/// <summary>ASP.NET Core rate limiting: a fixed window per user chained with one per key; 429 + Retry-After when exceeded.</summary>
public static class RateLimitingSetup
{
    public const string Policy = "per-user";

    public static IServiceCollection AddCallerRateLimits(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(RateLimitingOptions.Section).Get<RateLimitingOptions>() ?? new RateLimitingOptions();
        services.AddSingleton(options);
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(60);
                context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                await Results.Problem(
                    title: "Too many requests",
                    detail: $"Rate limit exceeded; retry after {Math.Ceiling(retryAfter.TotalSeconds)} s.",
                    statusCode: StatusCodes.Status429TooManyRequests).ExecuteAsync(context.HttpContext);
            };
            limiter.AddPolicy(Policy, http => options.Enabled
                ? RateLimitPartition.GetFixedWindowLimiter(PartitionKey(http, perUser: true), _ => Window(options.PerUserPerMinute))
                : RateLimitPartition.GetNoLimiter("off"));
            limiter.GlobalLimiter = options.Enabled
                ? PartitionedRateLimiter.Create<HttpContext, string>(http => http.Request.Path.StartsWithSegments("/api")
                    ? RateLimitPartition.GetFixedWindowLimiter(PartitionKey(http, perUser: false), _ => Window(options.PerKeyPerMinute))
                    : RateLimitPartition.GetNoLimiter("probes"))
                : null;
        });
        return services;
    }

    private static FixedWindowRateLimiterOptions Window(int permits) => new()
    {
        PermitLimit = permits,
        Window = TimeSpan.FromMinutes(1),
        QueueLimit = 0,
    };

    private static string PartitionKey(HttpContext http, bool perUser)
    {
        var key = http.User.Identity?.Name ?? "anonymous";
        return perUser ? key + "|" + (SubmissionUserPeek.UserOf(http) ?? "-") : key;
    }
}
