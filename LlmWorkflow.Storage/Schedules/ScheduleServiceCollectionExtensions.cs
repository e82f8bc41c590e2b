using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>Scheduling's schedules in both hosts: their store, notices and tick runner.</summary>
public static class ScheduleServiceCollectionExtensions
{
    public static IServiceCollection AddScheduleStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ScheduleOptions>().Bind(configuration.GetSection(ScheduleOptions.Section));
        services.AddSingleton<ScheduleStore>();
        services.AddSingleton<IRetentionPurge, ScheduleTickRetention>();
        services.AddSingleton<ScheduleNotices>();
        services.AddSingleton<ScheduleBufferNotices>();
        services.AddSingleton<ScheduleTickRunner>();
        return services;
    }
}
