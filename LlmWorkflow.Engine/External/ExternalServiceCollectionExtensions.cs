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
    /// http, calling out through the IHttpClientFactory clients <see cref="ExternalHttp.ServicesClientName"/> and
    /// <see cref="ExternalHttp.GuardedClientName"/> (the hosts add their resilience handlers). The response cache and the rate limiter stay in process unless the host registered its own
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
        // No client follows redirects on its own: an unchecked hop could lead anywhere. Timeouts are per attempt
        // in ExternalHttp; the clients live as long as the process, their transports renew connections themselves.
        services.AddHttpClient(ExternalHttp.ServicesClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers();
        services.AddHttpClient(ExternalHttp.GuardedClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => GuardedHandler(Options(sp)))
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers();
        services.TryAddSingleton(sp => Client(sp, ExternalHttp.ServicesClientName));
        services.AddSingleton<IExternalService>(sp => new WeatherApiService(
            sp.GetRequiredService<ExternalHttp>(), Options(sp).For(WeatherApiService.ServiceName), Environment.GetEnvironmentVariable));
        services.AddSingleton<IExternalService>(sp => new GooglePlacesService(
            sp.GetRequiredService<ExternalHttp>(), Options(sp).For(GooglePlacesService.ServiceName), Environment.GetEnvironmentVariable));
        services.AddSingleton<IExternalService>(sp => new HttpApiService(Client(sp, ExternalHttp.GuardedClientName), Options(sp).Http));
        services.TryAddSingleton<IExternalServiceGateway, ExternalServiceGateway>();
        return services;
    }

    /// <summary>
    /// The generic http step's transport: the webhooks' connect guard (resolved addresses checked, then connected to
    /// exactly those) and no automatic redirects (<see cref="HttpApiService"/> checks each hop itself).
    /// </summary>
    public static SocketsHttpHandler GuardedHandler(ExternalServicesOptions options) => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AllowAutoRedirect = false,
        ConnectCallback = (context, cancellationToken) => GuardedConnector.ConnectAsync(
            context.DnsEndPoint, options.Http.AllowPrivateNetworks, cancellationToken, "External:Http:AllowPrivateNetworks"),
    };

    private static ExternalHttp Client(IServiceProvider services, string name)
    {
        var http = services.GetRequiredService<IHttpClientFactory>().CreateClient(name);
        http.Timeout = Timeout.InfiniteTimeSpan;
        return new ExternalHttp(http, Options(services).Timeout);
    }

    private static ExternalServicesOptions Options(IServiceProvider services) =>
        services.GetRequiredService<IOptions<ExternalServicesOptions>>().Value;
}
