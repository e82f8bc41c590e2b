using Microsoft.Extensions.Diagnostics.HealthChecks;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Pipeline.Health;

/// <summary>Ready when Redis answers PING.</summary>
internal sealed class RedisHealthCheck(IRedisClient redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await redis.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy("redis");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("redis unreachable: " + ex.Message);
        }
    }
}
