using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the external service gateway, its services, the shared cache and the rate limiter.</summary>
public static class ExternalServiceCollectionExtensions
{
    /// <summary>
    /// Binds <c>External</c> and registers <see cref="IExternalServiceGateway"/> with weatherapi, google_places and
    /// http. When an <see cref="IRedisClient"/> is registered, the response cache gets a Redis level and rate limits
    /// are shared by all workers; otherwise both stay in process.
    /// </summary>
    public static IServiceCollection AddExternalServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ExternalServicesOptions>().Bind(configuration.GetSection(ExternalServicesOptions.SectionName));
        services.AddSharedResponseCache();
        services.AddMetrics();
        services.TryAddSingleton<IServiceRateLimiter>(sp => sp.GetService<IRedisClient>() is { } redis
            ? new RedisRateLimiter(redis)
            : new LocalRateLimiter());
        services.TryAddSingleton<ExternalServiceMetrics>();
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ExternalServicesOptions>>().Value;
            // One pooled HttpClient for all services; timeouts are per attempt in ExternalHttp.
            return new ExternalHttp(new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan }, options.Timeout);
        });
        services.AddSingleton<IExternalService>(sp => new WeatherApiService(
            sp.GetRequiredService<ExternalHttp>(), Options(sp).For(WeatherApiService.ServiceName), Environment.GetEnvironmentVariable));
        services.AddSingleton<IExternalService>(sp => new GooglePlacesService(
            sp.GetRequiredService<ExternalHttp>(), Options(sp).For(GooglePlacesService.ServiceName), Environment.GetEnvironmentVariable));
        services.AddSingleton<IExternalService>(sp => new HttpApiService(sp.GetRequiredService<ExternalHttp>(), Options(sp).Http));
        services.TryAddSingleton<IExternalServiceGateway, ExternalServiceGateway>();
        return services;
    }

    private static ExternalServicesOptions Options(IServiceProvider services) =>
        services.GetRequiredService<IOptions<ExternalServicesOptions>>().Value;
}
