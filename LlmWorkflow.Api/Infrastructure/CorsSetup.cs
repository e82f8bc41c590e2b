namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// CORS for browser callers (a Next.js front end calling the API directly). Origins come from
/// <c>Cors:AllowedOrigins</c> — a list, or one comma-separated string such as the environment variable
/// <c>CORS_ALLOWED_ORIGINS=https://app.example.com,http://localhost:3000</c>; <c>*</c> allows any origin. Nothing is
/// allowed by default. Preflight requests are answered by the CORS middleware before authentication.
/// </summary>
public static class CorsSetup
{
    public const string Section = "Cors:AllowedOrigins";

    /// <summary>The request headers the API reads: keys, the user header, idempotency and SSE resume.</summary>
    public static readonly string[] AllowedHeaders = ["Content-Type", "X-API-Key", "X-API-Secret", "X-User-Id", "Idempotency-Key", "Last-Event-ID"];

    /// <summary>Response headers a browser script may read.</summary>
    public static readonly string[] ExposedHeaders = ["Location", "Retry-After"];

    public static IServiceCollection AddConfiguredCors(this IServiceCollection services, IConfiguration configuration)
    {
        var origins = AllowedOrigins(configuration);
        services.AddCors(cors => cors.AddDefaultPolicy(policy =>
        {
            if (origins.Contains("*"))
            {
                policy.AllowAnyOrigin();
            }
            else
            {
                policy.WithOrigins(origins);
            }

            policy.WithMethods("GET", "POST", "DELETE")
                .WithHeaders(AllowedHeaders)
                .WithExposedHeaders(ExposedHeaders)
                .SetPreflightMaxAge(TimeSpan.FromHours(1));
        }));
        return services;
    }

    public static string[] AllowedOrigins(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var values = section.GetChildren().Select(c => c.Value).ToList();
        values.Add(section.Value);
        return values
            .SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(o => o.TrimEnd('/'))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToArray();
    }
}
