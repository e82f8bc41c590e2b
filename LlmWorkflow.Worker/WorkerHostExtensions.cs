using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage;
using LlmWorkflow.Worker.Jobs;
using LlmWorkflow.Worker.Schedules;
using LlmWorkflow.Worker.Webhooks;
using LlmWorkflow.Storage.Webhooks;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Worker;

/// <summary>Composition of the worker host, shared by Program and the in-process test host.</summary>
public static class WorkerHostExtensions
{
    public static IHostApplicationBuilder AddWorkerServices(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDefaults();
        builder.Services.AddLlmWorkflowCore(builder.Configuration);
        builder.EnrichLlmWorkflowDatabase(retryTransientFailures: true);
        builder.AddLlmWorkflowRedis();

        var workerSection = builder.Configuration.GetSection(WorkerOptions.Section);
        if (TenantSlotShares.ProblemOf(workerSection["TenantSlotShares"]) is { } sharesProblem)
        {
            throw new InvalidOperationException(sharesProblem);
        }

        builder.Services.AddOptions<WorkerOptions>().Bind(workerSection);
        var drain = workerSection.GetValue("DrainTimeout", new WorkerOptions().DrainTimeout);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = drain + TimeSpan.FromSeconds(10));

        // The write batcher is registered (and so started) before the consumer, and stops after it has drained.
        builder.Services.AddSingleton<PostgresWriteBatcher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PostgresWriteBatcher>());
        builder.Services.AddSingleton<JobRunStore>();
        builder.Services.AddSingleton<HeldWrites>();
        builder.Services.AddSingleton<TenantSlotShares>();
        builder.Services.AddSingleton<JobClaims>();
        builder.Services.AddSingleton<JobRuns>();
        builder.Services.AddSingleton<RunnableWorkflows>();
        builder.Services.AddSingleton<WorkflowRunOptionsFactory>();
        builder.Services.AddSingleton<UnfinishedRuns>();
        builder.Services.AddSingleton<JobProcessor>();
        builder.Services.AddOptions<LlmWorkflow.Worker.RunLogs.CsvRunLogOptions>().Bind(builder.Configuration.GetSection(LlmWorkflow.Worker.RunLogs.CsvRunLogOptions.SectionName))
            .PostConfigure(o => o.CsvDirectory ??= builder.Configuration[LlmWorkflow.Worker.RunLogs.CsvRunLogOptions.DirectoryVariable] is { Length: > 0 } dir ? dir : null);
        builder.Services.AddSingleton<LlmWorkflow.Worker.RunLogs.CsvRunLogs>();
        builder.Services.AddSingleton<RunningJobs>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RunningJobs>());
        builder.Services.AddSingleton<LiveEventPublisher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LiveEventPublisher>());
        builder.Services.AddSingleton<DispatchReconciler>();
        builder.Services.AddSingleton<DispatchReadHealth>();
        builder.Services.AddHostedService<JobConsumerService>();
        builder.Services.AddHostedService<DispatchReconcilerService>();
        builder.Services.AddSingleton<PostgresSignalInbox>();
        builder.Services.AddSingleton<DueJobWaker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DueJobWaker>());
        builder.Services.AddHostedService<BudgetWaiterWaker>();
        builder.Services.AddSingleton<ScheduleTicker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ScheduleTicker>());
        builder.Services.AddHostedService<WorkerPresenceService>();
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
        builder.Services.AddSingleton<QueueDepthReader>();
        builder.Services.AddHostedService<QueueMetricsService>();
        builder.Services.AddHostedService<MaintenanceService>();
        return builder;
    }

    public static async Task MigrateDatabaseAsync(this IHost host)
    {
        // The worker's own code uses no EF Core. When the schema is current (the API or another worker migrated it),
        // EF's model and migrator are never built, and their code never joins the worker's resident memory (about
        // 16 MB of its peak under 500 concurrent jobs).
        if (await DatabaseMigrator.IsCurrentAsync(host.Services.GetRequiredService<NpgsqlDataSource>(), CancellationToken.None))
        {
            return;
        }

        await using var scope = host.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<DatabaseMigrator>().MigrateAsync(CancellationToken.None);
    }
}
