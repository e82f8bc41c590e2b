using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>What both hosts keep beside the jobs: workers' presence, provider health, retention and the usage rollup.</summary>
public static class MaintenanceRegistration
{
    /// <summary>Worker heartbeats, provider health, retention and the usage rollup.</summary>
    public static void AddJobMaintenance(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<WorkerHeartbeats>();
        services.AddSingleton<ProviderHealthReports>();
        services.AddScoped<JobMaintenance>();
        services.AddOptions<MaintenanceOptions>().Bind(configuration.GetSection(MaintenanceOptions.Section));
        services.AddSingleton<ScheduledMaintenance>();
        services.AddSingleton<UsageRollup>();
    }
}
