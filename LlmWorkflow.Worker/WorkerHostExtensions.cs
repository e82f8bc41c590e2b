using LlmWorkflow.Storage.Agents;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage;
using LlmWorkflow.Worker.Admission;
using LlmWorkflow.Worker.Jobs;
using LlmWorkflow.Worker.RunLogs;
using LlmWorkflow.Worker.Schedules;
using LlmWorkflow.Worker.Webhooks;
using LlmWorkflow.Storage.Webhooks;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Worker;

/// <summary>Composition of the worker host, shared by Program and the in-process test host.</summary>
public static class WorkerHostExtensions
{
    /// <summary>The worker: the job core's stream consumer and run, then each capability module's background services.</summary>
    public static IHostApplicationBuilder AddWorkerServices(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDefaults();
        builder.Services.AddLlmWorkflowCore(builder.Configuration);
        builder.EnrichLlmWorkflowDatabase(retryTransientFailures: true);
        builder.AddLlmWorkflowRedis();
        builder.AddJobCore().AddAdmission().AddScheduling().AddReporting().AddWebhookDelivery();
        // Agents: the agent step and its durable loop state (docs/AGENTS.md).
        builder.Services.AddAgentSteps();
        return builder;
    }

    /// <summary>
    /// The job core in a worker: the write batcher, the run's store, the processor and its collaborators, the
    /// running jobs' leases, live events, the stream consumer and its reconciler, presence, queue metrics, maintenance.
    /// Hosted services start in this order and stop in reverse: the write batcher starts before the consumer and
    /// stops after it has drained.
    /// </summary>
    public static IHostApplicationBuilder AddJobCore(this IHostApplicationBuilder builder)
    {
        var workerSection = builder.Configuration.GetSection(WorkerOptions.Section);
        builder.Services.AddOptions<WorkerOptions>().Bind(workerSection);
        var drain = workerSection.GetValue("DrainTimeout", new WorkerOptions().DrainTimeout);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = drain + TimeSpan.FromSeconds(10));

        builder.Services.AddHostedService<RedisStopGuard>();
        builder.Services.AddSingleton<PostgresWriteBatcher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PostgresWriteBatcher>());
        builder.Services.AddSingleton<JobRunStore>();
        builder.Services.AddSingleton<HeldWrites>();
        builder.Services.AddSingleton<JobClaims>();
        builder.Services.AddSingleton<JobRuns>();
        builder.Services.AddSingleton<RunnableWorkflows>();
        builder.Services.AddSingleton<WorkflowRunOptionsFactory>();
        builder.Services.AddSingleton<UnfinishedRuns>();
        builder.Services.AddSingleton<JobProcessor>();
        builder.Services.AddSingleton<RunningJobs>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RunningJobs>());
        builder.Services.AddSingleton<LiveEventPublisher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LiveEventPublisher>());
        builder.Services.AddSingleton<DispatchReconciler>();
        builder.Services.AddSingleton<DispatchReadHealth>();
        builder.Services.AddHostedService<JobConsumerService>();
        builder.Services.AddHostedService<DispatchReconcilerService>();
        builder.Services.AddHostedService<WorkerPresenceService>();
        builder.Services.AddSingleton<QueueDepthReader>();
        builder.Services.AddHostedService<QueueMetricsService>();
        builder.Services.AddHostedService<MaintenanceService>();
        return builder;
    }

    /// <summary>Webhooks in a worker: the delivery store, the sender's HTTP client and the dispatcher of due attempts.</summary>
    public static IHostApplicationBuilder AddWebhookDelivery(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<WebhookDeliveryStore>();
        // No resilience handler: a retry here would be a second, unrecorded layer under the delivery schedule.
        builder.Services.AddHttpClient(WebhookSender.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => WebhookSender.CreateTransport(sp.GetRequiredService<IOptions<WebhookOptions>>().Value))
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers();
        builder.Services.AddSingleton(sp => new WebhookSender(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(WebhookSender.HttpClientName), sp.GetRequiredService<IOptions<WebhookOptions>>()));
        builder.Services.AddSingleton<WebhookDispatcher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        return builder;
    }
}
