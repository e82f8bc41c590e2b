using LlmWorkflow.Api.Auth;
using LlmWorkflow.Pipeline;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// Before the API takes traffic (hosted services start before the web server), pays once what its first requests
/// would otherwise pay together: the endpoints' request delegates built, a Redis and a database round trip, the
/// database key lookup and the queue-wait estimate. The server then rehearses a whole submission through the request
/// pipeline before it listens (<see cref="RehearsingServer"/>).
/// </summary>
public sealed class ApiWarmup(IServiceProvider services, ILogger<ApiWarmup> logger) : StartupWarmup(logger, "requests")
{
    protected override async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<EndpointDataSource>().Endpoints;
        await services.GetRequiredService<IRedisClient>().PingAsync(cancellationToken);
        // A digest no key has (all zero bytes): the lookup finds nothing and caches nothing.
        await services.GetRequiredService<ApiKeyStore>().FindByDigestAsync(new byte[32], cancellationToken);
        await services.GetRequiredService<QueueWaitEstimator>().EstimateSecondsAsync(0, cancellationToken);
    }
}
