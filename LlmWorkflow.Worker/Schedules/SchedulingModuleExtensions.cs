using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Worker.Schedules;

/// <summary>Scheduling's part of the worker host's composition.</summary>
public static class SchedulingModuleExtensions
{
    /// <summary>
    /// Scheduling in a worker: the signal inbox, the waker of due jobs with the expiry of jobs not started in time as
    /// one of its due works, the schedules' ticker.
    /// </summary>
    public static IHostApplicationBuilder AddScheduling(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<PostgresSignalInbox>();
        builder.Services.AddSingleton<IDueTimeWork, JobExpiry>();
        builder.Services.AddSingleton<DueJobWaker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DueJobWaker>());
        builder.Services.AddSingleton<ScheduleTicker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ScheduleTicker>());
        return builder;
    }
}
