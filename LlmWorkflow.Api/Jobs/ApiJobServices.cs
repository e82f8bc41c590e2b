using LlmWorkflow.Api.Webhooks;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Api.Jobs;

/// <summary>Registers what only the API uses of the job pipeline: submission, commands, reports, webhook admin and dry runs.</summary>
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
        // Dry runs (the workflows' validate and estimate routes) check models as well as structure; only the API plans them.
        services.AddSingleton(sp => new DryRunPlanner(
            new WorkflowValidator(
                transforms: sp.GetRequiredService<TransformRegistry>(),
                prompts: sp.GetRequiredService<PromptLibrary>(),
                services: sp.GetService<IExternalServiceGateway>(),
                models: sp.GetRequiredService<ModelCatalog>()),
            sp.GetRequiredService<PromptLibrary>(),
            sp.GetRequiredService<IPriceTable>()));
        return services;
    }
}
