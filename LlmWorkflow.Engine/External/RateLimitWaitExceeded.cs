using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.External;

/// <summary>The error every <see cref="IServiceRateLimiter"/> raises when no token frees up within the allowed wait.</summary>
public static class RateLimitWaitExceeded
{
    public const string Type = "rate_limit_wait_exceeded";

    public static WorkflowException For(string service, RateLimitOptions limit) => WorkflowException.External(
        Type,
        $"No {service} call slot became free within {limit.MaxWait.TotalSeconds:0.#} s (limit: {limit.Capacity} burst, {limit.RefillPerSecond} per second).",
        retryable: true,
        retryAfterSeconds: Math.Ceiling(1 / limit.RefillPerSecond));
}
