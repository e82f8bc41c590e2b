using LlmWorkflow.Api.Auth;
using LlmWorkflow.Pipeline;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// Before the API takes traffic (hosted services start before Kestrel listens), pays once what its first requests
/// would otherwise pay together: the endpoints' request delegates built, a Redis round trip, and a database round trip
/// on each path a submission takes — the key lookup, the batched INSERT (with no rows) and the queue-wait estimate.
/// Measured: a cold API's first submission spent 177 ms in the server against 3–10 ms warm, and each of the first
/// burst's 32 concurrent requests waited ≈ 190 ms (bench/README.md, S1).
/// </summary>
public sealed class ApiWarmup(IServiceProvider services, ILogger<ApiWarmup> logger) : StartupWarmup(logger, "requests")
{
    protected override async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<EndpointDataSource>().Endpoints;
        await services.GetRequiredService<IRedisClient>().PingAsync(cancellationToken);
        // A digest no key has (all zero bytes): the lookup finds nothing and caches nothing.
        await services.GetRequiredService<ApiKeyStore>().FindByDigestAsync(new byte[32], cancellationToken);
        await services.GetRequiredService<SubmissionBatcher>().WarmUpAsync(cancellationToken);
        await services.GetRequiredService<QueueWaitEstimator>().EstimateSecondsAsync(0, cancellationToken);
    }
}
