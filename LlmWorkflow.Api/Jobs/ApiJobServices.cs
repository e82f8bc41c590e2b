using LlmWorkflow.Api.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Api.Jobs;

/// <summary>Registers what only the API uses of the job pipeline: submission, commands, reports and webhook admin.</summary>
public static class ApiJobServices
{
    public static IServiceCollection AddApiJobServices(this IServiceCollection services)
    {
        services.AddSingleton<QueueWaitEstimator>();
        services.AddSingleton<SubmissionBatcher>();
        services.AddScoped<JobSubmitter>();
        services.AddScoped<IdempotentSubmissions>();
        services.AddScoped<JobCommands>();
        services.AddSingleton<Schedules.ScheduleCommands>();
        services.AddScoped<JobForks>();
        services.AddScoped<JobComparison>();
        services.AddSingleton<DeletedJobs>();
        services.AddSingleton<QueueSnapshot>();
        services.AddScoped<UsageReport>();
        services.AddSingleton<JobTimeSeries>();
        services.AddSingleton<WebhookAdmin>();
        return services;
    }
}
