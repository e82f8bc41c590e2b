using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace LlmWorkflow.ServiceDefaults.Resilience;

/// <summary>
/// Builds and keeps one resilience pipeline per named HttpClient. Handlers are recycled by IHttpClientFactory
/// every few minutes; keeping the pipeline here keeps the circuit breaker's state across those recycles.
/// </summary>
public sealed class HttpResiliencePipelines(IOptionsMonitor<HttpResilienceOptions> options)
{
    /// <summary>Where the handler leaves the request, so retry decisions can look at its method.</summary>
    internal static readonly ResiliencePropertyKey<HttpRequestMessage> RequestKey = new("LlmWorkflow.HttpRequest");

    private readonly ConcurrentDictionary<string, ResiliencePipeline<HttpResponseMessage>> _pipelines = new();

    /// <summary>The pipeline for the named client (the empty name for unnamed clients).</summary>
    public ResiliencePipeline<HttpResponseMessage> Get(string clientName) =>
        _pipelines.GetOrAdd(clientName, name => Build(options.Get(name)));

    private static ResiliencePipeline<HttpResponseMessage> Build(HttpResilienceOptions settings)
    {
        var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage>().AddTimeout(settings.TotalTimeout);
        if (settings.MaxRetryAttempts > 0)
        {
            pipeline.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = settings.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = settings.RetryBaseDelay,
                // A server asking us to wait longer than allowed gets its answer handed back to the caller instead.
                ShouldHandle = args => ValueTask.FromResult(
                    IsTransient(args.Outcome)
                    && MayRepeat(args.Context, settings)
                    && !(RetryAfter(args.Outcome) > settings.MaxRetryAfter)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome)),
                OnRetry = args =>
                {
                    // The failed response is dropped; release its connection.
                    args.Outcome.Result?.Dispose();
                    return ValueTask.CompletedTask;
                },
            });
        }

        return pipeline
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                FailureRatio = settings.CircuitFailureRatio,
                MinimumThroughput = settings.CircuitMinimumThroughput,
                SamplingDuration = settings.CircuitSamplingDuration,
                BreakDuration = settings.CircuitBreakDuration,
                ShouldHandle = args => ValueTask.FromResult(IsTransient(args.Outcome)),
            })
            .AddTimeout(settings.AttemptTimeout)
            .Build();
    }

    /// <summary>408, 429, 5xx, connection failures and attempt timeouts are worth another try.</summary>
    private static bool IsTransient(Outcome<HttpResponseMessage> outcome) => outcome switch
    {
        { Exception: HttpRequestException or TimeoutRejectedException } => true,
        { Result: { } response } => response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
            || (int)response.StatusCode >= 500,
        _ => false,
    };

    private static bool MayRepeat(ResilienceContext context, HttpResilienceOptions settings) =>
        settings.RetryNonIdempotentRequests
        || (context.Properties.TryGetValue(RequestKey, out var request)
            && request.Method != HttpMethod.Post && request.Method != HttpMethod.Patch);

    /// <summary>The server's Retry-After (seconds or a date), or null to use the exponential backoff.</summary>
    private static TimeSpan? RetryAfter(Outcome<HttpResponseMessage> outcome)
    {
        var header = outcome.Result?.Headers.RetryAfter;
        var delay = header?.Delta ?? header?.Date - DateTimeOffset.UtcNow;
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay;
    }
}
