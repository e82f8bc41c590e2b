using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmWorkflow.Engine.External;

/// <summary>
/// The one <see cref="IResponseCache"/> both gateways share: this process's memory, unless the host registered
/// another first (the service's hosts register a memory + Redis cache shared by all workers).
/// </summary>
internal static class ResponseCacheRegistration
{
    public static IServiceCollection AddSharedResponseCache(this IServiceCollection services)
    {
        services.AddMemoryCache();
        services.TryAddSingleton<IResponseCache>(sp => new MemoryResponseCache(sp.GetRequiredService<IMemoryCache>()));
        return services;
    }
}
