using Microsoft.AspNetCore.Authentication;

namespace LlmWorkflow.Api.Auth;

/// <summary>API-key authentication and the two policies: <c>caller</c> (any valid key) and <c>admin</c>.</summary>
public static class AuthServiceCollectionExtensions
{
    public const string CallerPolicy = "caller";
    public const string AdminPolicy = "admin";

    public static IServiceCollection AddApiKeyAuth(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ApiKeyOptions>().Bind(configuration.GetSection(ApiKeyOptions.Section));
        services.AddSingleton<ApiKeyRegistry>();
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<DatabaseApiKeys>();
        services.AddSingleton<ApiKeyUsageRecorder>();
        services.AddHostedService(sp => sp.GetRequiredService<ApiKeyUsageRecorder>());
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(CallerPolicy, p => p.RequireAuthenticatedUser())
            .AddPolicy(AdminPolicy, p => p.RequireClaim(ApiKeyAuthenticationHandler.AdminClaim));
        return services;
    }

    /// <summary>True for admin keys, which may read every user's jobs.</summary>
    public static bool IsAdmin(this System.Security.Claims.ClaimsPrincipal user) =>
        user.HasClaim(ApiKeyAuthenticationHandler.AdminClaim, "true");
}
