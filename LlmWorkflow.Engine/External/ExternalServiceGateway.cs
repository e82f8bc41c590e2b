using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace LlmWorkflow.Engine.External;

/// <summary>
/// Runs <c>external_api</c> calls: finds the service and operation, answers from the cache when it can, takes a
/// rate-limit token, calls with retries on timeouts/429/5xx (exponential backoff, the service's Retry-After first),
/// caches the result, and adds service and operation to failures with secrets redacted.
/// </summary>
public sealed partial class ExternalServiceGateway : IExternalServiceGateway
{
    private readonly Dictionary<string, IExternalService> _services;
    private readonly ExternalServicesOptions _options;
    private readonly IResponseCache _cache;
    private readonly IServiceRateLimiter _rateLimiter;
    private readonly ExternalServiceMetrics _metrics;
    private readonly ILogger<ExternalServiceGateway> _logger;
    private readonly ResiliencePipeline _retry;
    private readonly IExternalCacheLedger? _ledger;

    public ExternalServiceGateway(
        IEnumerable<IExternalService> services,
        IOptions<ExternalServicesOptions> options,
        IResponseCache cache,
        IServiceRateLimiter rateLimiter,
        ExternalServiceMetrics metrics,
        ILogger<ExternalServiceGateway> logger,
        IExternalCacheLedger? ledger = null)
    {
        _ledger = ledger;
        _services = services.ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);
        _options = options.Value;
        _cache = cache;
        _rateLimiter = rateLimiter;
        _metrics = metrics;
        _logger = logger;
        _retry = BuildRetry(_options);
    }

    public string? Describe(string service, string operation)
    {
        if (!_services.TryGetValue(service, out var found))
        {
            return $"Unknown external service '{service}'. Known: {string.Join(", ", _services.Keys.Order())}.";
        }

        return found.Operations.Contains(operation, StringComparer.OrdinalIgnoreCase)
            ? null
            : $"Service '{service}' has no operation '{operation}'. Operations: {string.Join(", ", found.Operations)}.";
    }

    public async Task<JsonNode?> CallAsync(string service, string operation, JsonObject parameters, CancellationToken cancellationToken)
    {
        if (Describe(service, operation) is { } problem)
        {
            throw WorkflowException.Config("unknown_operation", problem);
        }

        var target = _services[service];
        operation = operation.ToLowerInvariant();
        try
        {
            var ttl = CacheTtl(target, operation);
            var key = ttl > TimeSpan.Zero ? ExternalCacheKey.For(target.Name, operation, parameters) : null;
            if (key is not null)
            {
                if (await _cache.GetAsync(key, cancellationToken).ConfigureAwait(false) is { } cached)
                {
                    _metrics.CacheHit(target.Name, operation);
                    if (_ledger is not null)
                    {
                        await _ledger.HitAsync(key, cancellationToken).ConfigureAwait(false);
                    }

                    return JsonNode.Parse(cached);
                }

                _metrics.CacheMiss(target.Name, operation);
            }

            var limit = _options.For(target.Name).RateLimit;
            var result = await _retry.ExecuteAsync(
                async token =>
                {
                    if (limit is not null)
                    {
                        await _rateLimiter.AcquireAsync(target.Name, limit, token).ConfigureAwait(false);
                    }

                    return await target.CallAsync(operation, parameters, token).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);

            if (key is not null)
            {
                var answer = result?.ToJsonString() ?? "null";
                await _cache.SetAsync(key, answer, ttl, cancellationToken).ConfigureAwait(false);
                if (_ledger is not null)
                {
                    await _ledger.StoredAsync(target.Name, operation, key, answer, ttl, cancellationToken).ConfigureAwait(false);
                }
            }

            return result;
        }
        catch (WorkflowException failure)
        {
            LogCallFailed(target.Name, operation, failure.Error.Type);
            throw WithContext(failure, target, operation);
        }
    }

    private TimeSpan CacheTtl(IExternalService service, string operation)
    {
        var configured = _options.For(service.Name);
        var builtIn = service.DefaultCacheTtl(operation);
        return configured.OperationCacheTtl.TryGetValue(operation, out var ttl) ? ttl
            : configured.CacheTtl ?? (builtIn > TimeSpan.Zero && _options.DefaultCacheTtl is { } shared ? shared : builtIn);
    }

    private static WorkflowException WithContext(WorkflowException failure, IExternalService service, string operation)
    {
        var details = failure.Error.Details?.DeepClone().AsObject() ?? [];
        details["service"] = service.Name;
        details["operation"] = operation;
        var error = failure.Error with
        {
            Message = SecretRedactor.Redact(failure.Error.Message, service.Secrets),
            Details = JsonNode.Parse(SecretRedactor.Redact(details.ToJsonString(), service.Secrets))!.AsObject(),
        };
        return new WorkflowException(error, failure.InnerException);
    }

    private static ResiliencePipeline BuildRetry(ExternalServicesOptions options)
    {
        var builder = new ResiliencePipelineBuilder();
        // MaxAttempts = 1 means no retries (Polly rejects a retry strategy with zero retries).
        if (options.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.RetryMaxDelay,
                UseJitter = true,
                // Waiting for a rate-limit token already took MaxWait; the job-level retry decides what happens next.
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is WorkflowException { Error: { Retryable: true, Type: not RateLimitWaitExceeded.Type } }),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is WorkflowException { Error.RetryAfterSeconds: { } seconds }
                    ? TimeSpan.FromSeconds(Math.Min(seconds, options.RetryMaxDelay.TotalSeconds))
                    : (TimeSpan?)null),
            });
        }

        return builder.Build();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "External call {Service}.{Operation} failed: {ErrorType}")]
    private partial void LogCallFailed(string service, string operation, string errorType);
}
