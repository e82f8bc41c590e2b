using LlmWorkflow.Engine.Redis;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Engine.External;

/// <summary>The one <see cref="IResponseCache"/> both gateways share: memory + Redis when a Redis client is registered.</summary>
internal static class ResponseCacheRegistration
{
    public static IServiceCollection AddSharedResponseCache(this IServiceCollection services)
    {
        services.AddMemoryCache();
        services.TryAddSingleton<IResponseCache>(sp => sp.GetService<IRedisClient>() is { } redis
            ? new TieredResponseCache(
                sp.GetRequiredService<IMemoryCache>(),
                redis,
                sp.GetRequiredService<IOptions<ExternalServicesOptions>>().Value.MemoryCacheMaxTtl,
                sp.GetRequiredService<ILogger<TieredResponseCache>>())
            : new MemoryResponseCache(sp.GetRequiredService<IMemoryCache>()));
        return services;
    }
}
