using LlmWorkflow.ServiceDefaults.Resilience;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds or removes the standard resilience handler on HttpClients.</summary>
public static class HttpResilienceExtensions
{
    /// <summary>
    /// Sends the client's requests through timeouts, retries (idempotent methods, transient failures, honouring
    /// Retry-After) and a circuit breaker. Settings come from <c>HttpResilience</c>, then <paramref name="configure"/>.
    /// Works on a named client and inside <c>ConfigureHttpClientDefaults</c>.
    /// </summary>
    public static IHttpClientBuilder AddStandardResilience(
        this IHttpClientBuilder builder, Action<HttpResilienceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<HttpResilienceOptions>();
        builder.Services.TryAddSingleton<HttpResiliencePipelines>();
        if (configure is not null)
        {
            // A null name (the defaults builder) configures every client.
            builder.Services.Configure(builder.Name, configure);
        }

        // The handler builder knows the real client name even when this runs for every client.
        builder.Services.Configure<HttpClientFactoryOptions>(builder.Name, factory =>
            factory.HttpMessageHandlerBuilderActions.Add(handlers =>
            {
                var pipelines = handlers.Services.GetRequiredService<HttpResiliencePipelines>();
                handlers.AdditionalHandlers.Add(new ResilienceHandler(pipelines.Get(handlers.Name ?? "")));
            }));
        return builder;
    }

    /// <summary>
    /// Takes the standard resilience handler off this client, for callers with their own retry rules (webhook
    /// delivery, LLM providers).
    /// </summary>
    public static IHttpClientBuilder RemoveAllResilienceHandlers(this IHttpClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureAdditionalHttpMessageHandlers((handlers, _) =>
        {
            for (var i = handlers.Count - 1; i >= 0; i--)
            {
                if (handlers[i] is ResilienceHandler)
                {
                    handlers.RemoveAt(i);
                }
            }
        });
    }
}
