using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// Extension methods for IServiceCollection live in its namespace by convention, so hosts find them without a using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the LLM gateway, providers, price table and model catalog.</summary>
public static class LlmServiceCollectionExtensions
{
    /// <summary>
    /// Binds <c>Llm</c> and <c>Pricing</c> and registers <see cref="ILlmGateway"/>, <see cref="LlmProviderRegistry"/> (over
    /// the IHttpClientFactory client <see cref="LlmProviderRegistry.HttpClientName"/>),
    /// <see cref="IPriceTable"/>, <see cref="ModelCatalog"/> (as <see cref="IModelCatalog"/> too) and the shared <see cref="IResponseCache"/> (in memory unless
    /// the host registered another first).
    /// </summary>
    public static IServiceCollection AddLlmProviders(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<LlmOptions>().Bind(configuration.GetSection(LlmOptions.SectionName));
        services.AddOptions<PricingOptions>().Bind(configuration.GetSection(PricingOptions.SectionName));
        services.AddSharedResponseCache();
        services.TryAddSingleton(sp => PriceTable.Load(
            sp.GetRequiredService<IOptions<PricingOptions>>().Value, sp.GetRequiredService<ILogger<PriceTable>>()));
        services.TryAddSingleton<IPriceTable>(sp => sp.GetRequiredService<PriceTable>());
        // Outermost first: failures classified, HTTP/2 asked for, then whatever the host adds (its resilience handler).
        services.AddHttpClient(LlmProviderRegistry.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(LlmProviderRegistry.CreateTransport)
            .AddHttpMessageHandler(sp => new ProviderErrorHandler(sp.GetRequiredService<IOptions<LlmOptions>>().Value.MaxAnswerBytes))
            // Inside the error handler, so the headers of a 429 are read too.
            .AddHttpMessageHandler(() => new LlmWorkflow.Engine.Llm.Admission.RateLimitHeaderReader())
            .AddHttpMessageHandler(() => new PreferHttp2Handler())
            // The registry keeps its client for the process's life; the transport renews connections itself.
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            // The gateway logs failed calls; the factory's four lines per request would bury them.
            .RemoveAllLoggers();
        services.TryAddSingleton(sp => new LlmProviderRegistry(
            sp.GetRequiredService<IOptions<LlmOptions>>(),
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(LlmProviderRegistry.HttpClientName))
        {
            // A capability's middleware (admission's, when the host adds it) wraps each provider's client.
            Middleware = [.. sp.GetServices<IProviderClientMiddleware>()],
        });
        services.TryAddSingleton<ModelCatalog>();
        services.TryAddSingleton<IModelCatalog>(sp => sp.GetRequiredService<ModelCatalog>());
        services.TryAddSingleton(sp => new ProviderHealthTracker(sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddOptions<LlmWorkflow.Engine.Llm.Admission.AdmissionOptions>().Bind(configuration.GetSection(LlmOptions.SectionName))
            .Configure(o =>
            {
                // Tenants:<id>:Limits, :PerUserLimits, :Weight and :UserWeights (the tenant's budgets and cap sit beside them).
                foreach (var tenant in configuration.GetSection("Tenants").GetChildren())
                {
                    BindLimit(tenant.GetSection("Limits"), o.TenantLimits, tenant.Key);
                    BindLimit(tenant.GetSection("PerUserLimits"), o.PerUserLimits, tenant.Key);
                    if (tenant.GetSection("Weight").Exists())
                    {
                        o.TenantWeights[tenant.Key] = tenant["Weight"];
                    }

                    if (tenant.GetSection("UserWeights").GetChildren().ToList() is { Count: > 0 } users)
                    {
                        o.UserWeights[tenant.Key] = users.ToDictionary(u => u.Key, u => u.Value, StringComparer.Ordinal);
                    }
                }
            })
            // Each provider's key as the registry resolves it (ApiKey or its environment variable), fingerprinted.
            .Configure<LlmProviderRegistry>((o, registry) => o.UseProviderKeys(registry))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LlmWorkflow.Engine.Llm.Admission.AdmissionOptions>, LlmWorkflow.Engine.Llm.Admission.AdmissionOptionsValidator>());
        // Without a budget store (the CLI, hosts without Redis) every call is admitted; the pipeline registers Redis's.
        services.TryAddSingleton<LlmWorkflow.Engine.Llm.Admission.ILlmAdmission, LlmWorkflow.Engine.Llm.Admission.UnlimitedAdmission>();
        services.TryAddSingleton<ILlmGateway, LlmGateway>();
        return services;
    }

    private static void BindLimit(IConfigurationSection section, Dictionary<string, LlmWorkflow.Engine.Llm.Admission.LlmLimit> limits, string tenant)
    {
        if (section.Exists())
        {
            var limit = new LlmWorkflow.Engine.Llm.Admission.LlmLimit();
            section.Bind(limit);
            limits[tenant] = limit;
        }
    }
}
