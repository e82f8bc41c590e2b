using LlmWorkflow.Api.Auth;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// Before the API takes traffic (hosted services start before Kestrel listens), pays once what its first requests
/// would otherwise pay together: the endpoints' request delegates built, a Redis round trip, and a database round trip
/// on each path a submission takes — the key lookup, the batched INSERT (with no rows) and the queue-wait estimate.
/// Measured: a cold API's first submission spent 177 ms in the server against 3–10 ms warm, and each of the first
/// burst's 32 concurrent requests waited ≈ 190 ms (bench/README.md, S1). Best effort and bounded: a dependency that is
/// down at start delays startup by at most <see cref="Limit"/> and fails nothing; its first requests then pay as before.
/// </summary>
public sealed partial class ApiWarmup(IServiceProvider services, ILogger<ApiWarmup> logger) : IHostedService
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Limit);
        var started = TimeProvider.System.GetTimestamp();
        try
        {
            _ = services.GetRequiredService<EndpointDataSource>().Endpoints;
            await services.GetRequiredService<IRedisClient>().PingAsync(limit.Token);
            // A digest no key has (all zero bytes): the lookup finds nothing and caches nothing.
            await services.GetRequiredService<ApiKeyStore>().FindByDigestAsync(new byte[32], limit.Token);
            await services.GetRequiredService<SubmissionBatcher>().WarmUpAsync(limit.Token);
            await services.GetRequiredService<QueueWaitEstimator>().EstimateSecondsAsync(0, limit.Token);
            LogWarm(TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogNotWarm(ex);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm for the first requests in {Milliseconds:F0} ms")]
    private partial void LogWarm(double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm-up incomplete (a dependency is not reachable yet); the first requests will pay for it")]
    private partial void LogNotWarm(Exception ex);
}
