using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Llm.Budgets;
using Microsoft.Extensions.Configuration;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Admission;

/// <summary>
/// Registers admission in both hosts: the tenants' caps, the budgets in Redis and the output history in PostgreSQL, and
/// its chat-client middleware around each provider's client (the gateway knows none of it).
/// </summary>
public static class AdmissionRegistration
{
    /// <summary>Before <c>AddLlmProviders</c>: the engine registers an unlimited admission only when none is.</summary>
    public static IServiceCollection AddRedisLlmAdmission(this IServiceCollection services, IConfiguration configuration)
    {
        // Tenants:<id>:MaxConcurrentJobs (the tenant's budgets sit beside it): the API holds jobs past it from their
        // submission, the workers' claims enforce it.
        services.AddOptions<TenantConcurrencyOptions>().Configure(o => configuration.GetSection("Tenants").Bind(o.Tenants)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TenantConcurrencyOptions>, TenantConcurrencyOptionsValidator>();
        services.AddSingleton<TenantConcurrency>();
        // Tenants:<id>:Budgets (other settings of a tenant may sit beside them) and Budgets:{DailyWindow, MonthlyWindow, PendingWait}.
        services.AddOptions<TenantBudgetOptions>()
            .Configure(o =>
            {
                configuration.GetSection("Tenants").Bind(o.Tenants);
                configuration.GetSection("Budgets").Bind(o.Windows);
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<TenantBudgetOptions>, TenantBudgetOptionsValidator>();
        services.AddSingleton(sp => new RedisSpendStore(
            sp.GetRequiredService<IConnectionMultiplexer>(), sp.GetRequiredService<IOptions<QueueOptions>>().Value.KeyPrefix + ":"));
        services.AddSingleton<TenantSpendBudgets>();
        services.AddSingleton(sp => new RedisAdmissionStore(
            sp.GetRequiredService<IConnectionMultiplexer>(), sp.GetRequiredService<IOptions<QueueOptions>>().Value.KeyPrefix + ":"));
        services.AddSingleton<IAdmissionStore>(sp => sp.GetRequiredService<RedisAdmissionStore>());
        services.AddSingleton<IOutputTokenHistory, PostgresOutputTokenHistory>();
        services.AddSingleton<IStepCostHistory, PostgresStepCostHistory>();
        services.AddSingleton<ILlmAdmission, LlmAdmission>();
        // Llm:Outage: a provider answering 5xx or nothing parks its steps (shared by every worker, shown to operators).
        services.AddOptions<ProviderOutageOptions>().Bind(configuration.GetSection("Llm:Outage"));
        services.AddSingleton<IProviderOutageStore>(sp => new RedisOutageStore(sp.GetRequiredService<IConnectionMultiplexer>(),
            sp.GetRequiredService<RedisAdmissionStore>(), sp.GetRequiredService<IOptions<QueueOptions>>().Value.KeyPrefix + ":"));
        services.AddSingleton<ProviderOutageBreaker>();
        services.AddSingleton<IProviderClientMiddleware, AdmissionMiddleware>();
        return services;
    }
}
