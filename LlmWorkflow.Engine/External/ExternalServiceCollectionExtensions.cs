using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Network;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the external service gateway, its services, the shared cache and the rate limiter.</summary>
public static class ExternalServiceCollectionExtensions
{
    /// <summary>
    /// Binds <c>External</c> and registers <see cref="IExternalServiceGateway"/> with weatherapi, google_places and
    /// http. The response cache and the rate limiter stay in process unless the host registered its own
    /// <see cref="IResponseCache"/> and <see cref="IServiceRateLimiter"/> first (the service's hosts share both
    /// through Redis).
    /// </summary>
    public static IServiceCollection AddExternalServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ExternalServicesOptions>().Bind(configuration.GetSection(ExternalServicesOptions.SectionName));
        services.AddSharedResponseCache();
        services.AddMetrics();
        services.TryAddSingleton<IServiceRateLimiter, LocalRateLimiter>();
        services.TryAddSingleton<ExternalServiceMetrics>();
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ExternalServicesOptions>>().Value;
            // One pooled HttpClient for the named services; timeouts are per attempt in ExternalHttp. No service
            // follows redirects on its own: an unchecked hop could lead anywhere.
            return new ExternalHttp(new HttpClient(new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                AllowAutoRedirect = false,
            }) { Timeout = Timeout.InfiniteTimeSpan }, options.Timeout);
        });
        services.AddSingleton<IExternalService>(sp => new WeatherApiService(
            sp.GetRequiredService<ExternalHttp>(), Options(sp).For(WeatherApiService.ServiceName), Environment.GetEnvironmentVariable));
        services.AddSingleton<IExternalService>(sp => new GooglePlacesService(
            sp.GetRequiredService<ExternalHttp>(), Options(sp).For(GooglePlacesService.ServiceName), Environment.GetEnvironmentVariable));
        services.AddSingleton<IExternalService>(sp => new HttpApiService(GuardedHttp(Options(sp)), Options(sp).Http));
        services.TryAddSingleton<IExternalServiceGateway, ExternalServiceGateway>();
        return services;
    }

    /// <summary>
    /// The generic http step's client: the webhooks' connect guard (resolved addresses checked, then connected to
    /// exactly those) and no automatic redirects (<see cref="HttpApiService"/> checks each hop itself).
    /// </summary>
    public static ExternalHttp GuardedHttp(ExternalServicesOptions options) =>
        new(new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = false,
            ConnectCallback = (context, cancellationToken) => GuardedConnector.ConnectAsync(
                context.DnsEndPoint, options.Http.AllowPrivateNetworks, cancellationToken, "External:Http:AllowPrivateNetworks"),
        }) { Timeout = Timeout.InfiniteTimeSpan }, options.Timeout);

    private static ExternalServicesOptions Options(IServiceProvider services) =>
        services.GetRequiredService<IOptions<ExternalServicesOptions>>().Value;
}
