namespace LlmWorkflow.Engine.External;

/// <summary>Per-service token buckets; the Redis implementation shares them across all workers.</summary>
public interface IServiceRateLimiter
{
    /// <summary>
    /// Waits for a token of <paramref name="service"/>'s bucket; throws a retryable EXTERNAL_ERROR
    /// (<c>rate_limit_wait_exceeded</c>) when none is free within <see cref="RateLimitOptions.MaxWait"/>.
    /// </summary>
    ValueTask AcquireAsync(string service, RateLimitOptions limit, CancellationToken cancellationToken);
}
