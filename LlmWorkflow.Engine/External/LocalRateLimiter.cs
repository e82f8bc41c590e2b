using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace LlmWorkflow.Engine.External;

/// <summary>In-process token buckets, used when no Redis is configured (a single worker, local runs, the CLI).</summary>
public sealed class LocalRateLimiter : IServiceRateLimiter, IDisposable
{
    private readonly ConcurrentDictionary<string, TokenBucketRateLimiter> _buckets = new(StringComparer.OrdinalIgnoreCase);

    public async ValueTask AcquireAsync(string service, RateLimitOptions limit, CancellationToken cancellationToken)
    {
        var bucket = _buckets.GetOrAdd(service, _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit.Capacity,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1 / limit.RefillPerSecond),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        }));
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(limit.MaxWait);
        try
        {
            using var lease = await bucket.AcquireAsync(1, wait.Token).ConfigureAwait(false);
            if (!lease.IsAcquired)
            {
                throw RateLimitWaitExceeded.For(service, limit);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw RateLimitWaitExceeded.For(service, limit);
        }
    }

    public void Dispose()
    {
        foreach (var bucket in _buckets.Values)
        {
            bucket.Dispose();
        }
    }
}
