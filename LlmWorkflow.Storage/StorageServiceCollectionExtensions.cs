using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Steps;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Storage.External;
using LlmWorkflow.Storage.Health;
using LlmWorkflow.Storage.Http;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage.Schedules;
using LlmWorkflow.Storage.Admission;
using StackExchange.Redis;
using LlmWorkflow.Storage.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Storage;

/// <summary>
/// Registers what both the API and the Worker host (the Redis client comes from <see cref="RedisSetup"/>): storage, dispatch, webhooks' outbox, health checks, and
/// the workflow engine with its response cache and rate limits shared through Redis. What only one of them needs, each
/// registers itself (the API's <c>AddApiJobServices</c>, the Worker's <c>AddWorkerServices</c>).
/// </summary>
public static class StorageServiceCollectionExtensions
{
    public static IServiceCollection AddLlmWorkflowCore(this IServiceCollection services, IConfiguration configuration)
    {
        var postgres = configuration.GetConnectionString("postgres")
            ?? throw new InvalidOperationException("ConnectionStrings:postgres is not set (environment variable ConnectionStrings__postgres).");

        services.AddJobStore(postgres, configuration);
        // The capabilities the core's submit and claim still read (tenant caps, pinned versions), each module's own.
        services.AddRedisLlmAdmission(configuration);
        services.AddSingleton<Versions.WorkflowVersions>();
        services.AddJobServices();
        services.AddScheduleStore(configuration);
        services.AddJobMaintenance(configuration);
        services.AddWebhooks(configuration);
        services.AddWorkflowEngine(configuration);
        services.AddStorageHealthChecks();
        return services;
    }

    /// <summary>The job core's store: PostgreSQL (data source, EF context for migrations), the queue and the lifecycle table's statements.</summary>
    private static void AddJobStore(this IServiceCollection services, string postgres, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => PostgresDataSource.Create(postgres, sp.GetService<ILoggerFactory>()));
        services.AddDbContextPool<LlmWorkflowDbContext>((sp, options) => options
            .UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>())
            // Migrations are written as SQL (the EF design-time package is not in our registry), so there is no
            // model snapshot to compare against; SchemaMatchesModelTests guards the model against drift instead.
            .ConfigureWarnings(w => w.Ignore(RelationalEventId.PendingModelChangesWarning)));
        services.AddScoped<DatabaseMigrator>();

        services.AddOptions<QueueOptions>().Bind(configuration.GetSection(QueueOptions.Section));
        services.AddSingleton<JobQueue>();
        services.AddSingleton<JobLifecycleStore>();
    }

    /// <summary>The job core's event streams, cancel notices and pauses.</summary>
    private static void AddJobServices(this IServiceCollection services)
    {
        services.AddSingleton<JobEventStream>();
        services.AddSingleton<JobCancellation>();
        services.AddSingleton<WorkflowPauses>();
    }

    /// <summary>
    /// The workflow engine: the workflows folder's catalog, prompts, prices and transforms, the providers, the
    /// external services with their shared response cache and rate limits, and the runner (the API adds the dry-run planner).
    /// </summary>
    private static void AddWorkflowEngine(this IServiceCollection services, IConfiguration configuration)
    {
        var workflowsRoot = WorkflowsDirectory.Resolve(configuration["Workflows:Root"]);
        // Registered before the engine's own: the engine adds in-process ones only when none is registered. The LLM
        // gateway and the external services share this one response cache.
        services.AddMemoryCache();
        services.AddSingleton<IResponseCache>(sp => new TieredResponseCache(
            sp.GetRequiredService<IMemoryCache>(),
            sp.GetRequiredService<IConnectionMultiplexer>(),
            sp.GetRequiredService<IOptions<ExternalServicesOptions>>().Value.MemoryCacheMaxTtl,
            sp.GetRequiredService<ILogger<TieredResponseCache>>()));
        services.AddSingleton<IServiceRateLimiter>(sp => new RedisRateLimiter(sp.GetRequiredService<IConnectionMultiplexer>()));
        services.AddSingleton<IExternalCacheLedger, PostgresExternalCacheLedger>();
        services.AddExternalServices(configuration);
        services.AddLlmProviders(configuration);
        services.AddOutboundHttpResilience(configuration);
        WorkflowsDirectory.UseDataFilesOf(services, configuration, workflowsRoot);
        services.AddSingleton(_ => TransformRegistry.CreateDefault());
        services.AddSingleton(_ => new PromptLibrary(Path.Combine(workflowsRoot, "prompts")));

        // Catalog loading checks structure only: a missing provider key must not stop the service from starting.
        // Dry runs add the model checks (unknown provider, missing key, unpriced); a job needing a missing key
        // fails with CONFIG_ERROR naming the variable.
        services.AddSingleton(sp => WorkflowCatalog.Load(
            Path.Combine(workflowsRoot, "definitions"),
            new WorkflowValidator(
                transforms: sp.GetRequiredService<TransformRegistry>(),
                prompts: sp.GetRequiredService<PromptLibrary>(),
                services: sp.GetService<IExternalServiceGateway>()),
            watchForChanges: configuration.GetValue("Workflows:WatchForChanges", false)));
        services.AddSingleton(sp => new WorkflowRunner(
            transforms: sp.GetRequiredService<TransformRegistry>(),
            llm: sp.GetRequiredService<ILlmGateway>(),
            external: sp.GetService<IExternalServiceGateway>(),
            prompts: sp.GetRequiredService<PromptLibrary>(),
            prices: sp.GetRequiredService<IPriceTable>(),
            time: sp.GetRequiredService<TimeProvider>(),
            modules: sp.GetServices<StepModule>()));
    }
}
