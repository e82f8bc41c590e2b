using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Client;

/// <summary>Where the service is and the caller key to use (<c>services.AddLlmWorkflowClient(o =&gt; ...)</c>).</summary>
public sealed class LlmWorkflowClientOptions
{
    /// <summary>The service's base URL, e.g. http://localhost:5080 (no /api/v1).</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>A caller key, sent as <c>X-API-Key</c>. Never logged by the client.</summary>
    public string? ApiKey { get; set; }

    internal static void ApplyKey(HttpClient http, string apiKey)
    {
        http.DefaultRequestHeaders.Remove("X-API-Key");
        http.DefaultRequestHeaders.Add("X-API-Key", apiKey);
    }
}

/// <summary>Registration of <see cref="LlmWorkflowClient"/> as a typed client of <c>IHttpClientFactory</c>.</summary>
public static class LlmWorkflowServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="LlmWorkflowClient"/> (transient, its HttpClient from the factory). Returns the
    /// <see cref="IHttpClientBuilder"/> to add handlers, e.g. resilience. The HttpClient has no overall timeout, since
    /// <see cref="LlmWorkflowClient.EventsAsync"/> streams for as long as a job runs: pass cancellation tokens.
    /// </summary>
    public static IHttpClientBuilder AddLlmWorkflowClient(this IServiceCollection services, Action<LlmWorkflowClientOptions> configure)
    {
        services.AddOptions<LlmWorkflowClientOptions>()
            .Configure(configure)
            .Validate(o => o.BaseAddress is not null, "LlmWorkflowClientOptions.BaseAddress is required")
            .Validate(o => !string.IsNullOrEmpty(o.ApiKey), "LlmWorkflowClientOptions.ApiKey is required");
        return services.AddHttpClient<LlmWorkflowClient>((provider, http) =>
        {
            var options = provider.GetRequiredService<IOptions<LlmWorkflowClientOptions>>().Value;
            http.BaseAddress = options.BaseAddress;
            http.Timeout = Timeout.InfiniteTimeSpan;
            LlmWorkflowClientOptions.ApplyKey(http, options.ApiKey!);
        });
    }
}
