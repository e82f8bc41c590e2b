using LlmWorkflow.Engine.External;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.External;

/// <summary>Builds external gateways against fake servers: short timeouts and retry delays, private keys.</summary>
internal static class TestExternalGateways
{
    public const string WeatherKey = "weather-key-0123456789";
    public const string PlacesKey = "AIzaFakePlacesKey0123456789abcdef";

    public static ExternalServicesOptions Options(Uri? weather = null, Uri? places = null, params string[] allowedHosts)
    {
        var options = new ExternalServicesOptions
        {
            Timeout = TimeSpan.FromSeconds(2),
            RetryBaseDelay = TimeSpan.FromMilliseconds(10),
            RetryMaxDelay = TimeSpan.FromMilliseconds(200),
            // The fakes listen on loopback; the address guard itself is tested with this off.
            Http = new HttpServiceOptions { AllowedHosts = [.. allowedHosts], AllowPrivateNetworks = true },
        };
        options.Services[WeatherApiService.ServiceName] = new ExternalServiceOptions { BaseUrl = weather?.ToString() };
        options.Services[GooglePlacesService.ServiceName] = new ExternalServiceOptions { BaseUrl = places?.ToString() };
        return options;
    }

    public static ExternalServiceGateway Create(
        ExternalServicesOptions options,
        IReadOnlyDictionary<string, string>? environment = null,
        IResponseCache? cache = null,
        IServiceRateLimiter? rateLimiter = null,
        ExternalServiceMetrics? metrics = null,
        IExternalCacheLedger? ledger = null)
    {
        environment ??= new Dictionary<string, string> { [WeatherApiService.KeyVariable] = WeatherKey, ["GOOGLE_PLACES_API_KEY"] = PlacesKey };
        var http = new ExternalHttp(new HttpClient(), options.Timeout);
        IExternalService[] services =
        [
            new WeatherApiService(http, options.For(WeatherApiService.ServiceName), name => environment.GetValueOrDefault(name)),
            new GooglePlacesService(http, options.For(GooglePlacesService.ServiceName), name => environment.GetValueOrDefault(name)),
            new HttpApiService(new ExternalHttp(new HttpClient(Microsoft.Extensions.DependencyInjection.ExternalServiceCollectionExtensions.GuardedHandler(options)), options.Timeout), options.Http),
        ];
        return new ExternalServiceGateway(
            services,
            Microsoft.Extensions.Options.Options.Create(options),
            cache ?? new MemoryResponseCache(new MemoryCache(new MemoryCacheOptions())),
            rateLimiter ?? new LocalRateLimiter(),
            metrics ?? new ExternalServiceMetrics(),
            NullLogger<ExternalServiceGateway>.Instance,
            ledger);
    }
}
