using System.Net;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace LlmWorkflow.Storage.Http;

/// <summary>
/// What the service's hosts add to the engine's outbound clients (LLM providers, the external services, the http
/// step): Microsoft.Extensions.Http.Resilience's circuit breaker, one per host called, and a timeout backstop.
/// </summary>
internal static class OutboundHttpResilience
{
    /// <summary>How much longer than the caller's own per-attempt timeout the backstop waits: it must never fire first.</summary>
    private static readonly TimeSpan BackstopMargin = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Adds the resilience handlers. Settings of the breakers: <c>Llm:CircuitBreaker</c> and
    /// <c>External:CircuitBreaker</c> (FailureRatio, MinimumThroughput, SamplingDuration, BreakDuration).
    /// </summary>
    public static IServiceCollection AddOutboundHttpResilience(this IServiceCollection services, IConfiguration configuration)
    {
        AddBreaker(services, LlmProviderRegistry.HttpClientName, configuration.GetSection("Llm:CircuitBreaker"),
            provider => LongestLlmAttempt(provider.GetRequiredService<IOptions<LlmOptions>>().Value), reportsCircuit: true);
        foreach (var client in (string[])[ExternalHttp.ServicesClientName, ExternalHttp.GuardedClientName])
        {
            AddBreaker(services, client, configuration.GetSection("External:CircuitBreaker"),
                provider => provider.GetRequiredService<IOptions<ExternalServicesOptions>>().Value.Timeout);
        }

        return services;
    }

    /// <summary>A flex attempt may outlast a standard one (<c>Llm:Flex:AttemptTimeout</c>): the backstop waits for the longer.</summary>
    private static TimeSpan LongestLlmAttempt(LlmOptions options) =>
        options.Flex.AttemptTimeout > options.AttemptTimeout ? options.Flex.AttemptTimeout : options.AttemptTimeout;

    /// <param name="reportsCircuit">Tell the <see cref="ProviderHealthTracker"/> of the breakers' state changes (the provider health view).</param>
    private static void AddBreaker(IServiceCollection services, string client, IConfiguration settings, Func<IServiceProvider, TimeSpan> attemptTimeout, bool reportsCircuit = false) =>
        // Not the standard handler: the gateways already retry (LLMs: attempts per model, then the fallback chain;
        // external APIs: attempts honouring Retry-After), and a second, hidden retry here would multiply the calls paid for.
        services.AddHttpClient(client)
            .AddResilienceHandler("breaker", (pipeline, context) =>
            {
                var breaker = new HttpCircuitBreakerStrategyOptions
                {
                    // A provider that rate-limits is answering, not failing: its 429s are the gateway's (Retry-After) to handle.
                    ShouldHandle = args => ValueTask.FromResult(
                        HttpClientResiliencePredicates.IsTransient(args.Outcome) && args.Outcome.Result?.StatusCode != HttpStatusCode.TooManyRequests),
                };
                settings.Bind(breaker);
                if (reportsCircuit && context.ServiceProvider.GetService<ProviderHealthTracker>() is { } health)
                {
                    // The instance name is the breaker's key, the host's authority (SelectPipelineByAuthority).
                    var authority = context.InstanceName;
                    breaker.OnOpened = args =>
                    {
                        health.CircuitChanged(authority, "open", DateTimeOffset.UtcNow + args.BreakDuration);
                        return ValueTask.CompletedTask;
                    };
                    breaker.OnHalfOpened = _ =>
                    {
                        health.CircuitChanged(authority, "half_open", null);
                        return ValueTask.CompletedTask;
                    };
                    breaker.OnClosed = _ =>
                    {
                        health.CircuitChanged(authority, "closed", null);
                        return ValueTask.CompletedTask;
                    };
                }

                pipeline.AddCircuitBreaker(breaker)
                    .AddTimeout(new HttpTimeoutStrategyOptions { Timeout = attemptTimeout(context.ServiceProvider) + BackstopMargin });
            })
            // One breaker per scheme, host and port: one failing provider or API does not pause calls to the others.
            .SelectPipelineByAuthority();
}
