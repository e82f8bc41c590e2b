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
using Microsoft.Extensions.Diagnostics.HealthChecks;
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
        services.AddTenantCaps(configuration);
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
        services.AddSingleton(sp => CreateDataSource(postgres, sp.GetService<ILoggerFactory>()));
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

    /// <summary>Admission's tenant caps, read by the API's submit and the workers' claims.</summary>
    private static void AddTenantCaps(this IServiceCollection services, IConfiguration configuration)
    {
        // Tenants:<id>:MaxConcurrentJobs (the tenant's budgets sit beside it): the API holds jobs past it from their
        // submission, the workers' claims enforce it.
        services.AddOptions<TenantConcurrencyOptions>().Configure(o => configuration.GetSection("Tenants").Bind(o.Tenants)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TenantConcurrencyOptions>, TenantConcurrencyOptionsValidator>();
        services.AddSingleton<TenantConcurrency>();
    }

    /// <summary>The job core's event streams, cancel notices and pauses.</summary>
    private static void AddJobServices(this IServiceCollection services)
    {
        services.AddSingleton<JobEventStream>();
        services.AddSingleton<JobCancellation>();
        services.AddSingleton<WorkflowPauses>();
    }

    /// <summary>Scheduling's schedules: their store, notices and tick runner.</summary>
    private static void AddScheduleStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ScheduleOptions>().Bind(configuration.GetSection(ScheduleOptions.Section));
        services.AddSingleton<ScheduleStore>();
        services.AddSingleton<ScheduleNotices>();
        services.AddSingleton<ScheduleBufferNotices>();
        services.AddSingleton<ScheduleTickRunner>();
    }

    /// <summary>Worker heartbeats, provider health, retention and the usage rollup.</summary>
    private static void AddJobMaintenance(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<WorkerHeartbeats>();
        services.AddSingleton<ProviderHealthReports>();
        services.AddScoped<JobMaintenance>();
        services.AddOptions<MaintenanceOptions>().Bind(configuration.GetSection(MaintenanceOptions.Section));
        services.AddSingleton<ScheduledMaintenance>();
        services.AddSingleton<UsageRollup>();
    }

    /// <summary>
    /// The workflow engine: the workflows folder's catalog, prompts, prices and transforms, the providers, the
    /// external services with their shared response cache and rate limits, the dry-run planner and the runner.
    /// </summary>
    private static void AddWorkflowEngine(this IServiceCollection services, IConfiguration configuration)
    {
        var workflowsRoot = WorkflowsDirectory.Resolve(configuration["Workflows:Root"]);
        UseWorkflowsFolderForDataFiles(services, configuration, workflowsRoot);
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
        services.AddRedisLlmAdmission(configuration);
        // Admission's budgets as chat-client middleware around each provider's client (the gateway knows none of it).
        services.AddSingleton<IProviderClientMiddleware, LlmWorkflow.Engine.Llm.Admission.AdmissionMiddleware>();
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
        services.AddSingleton(sp => new DryRunPlanner(
            new WorkflowValidator(
                transforms: sp.GetRequiredService<TransformRegistry>(),
                prompts: sp.GetRequiredService<PromptLibrary>(),
                services: sp.GetService<IExternalServiceGateway>(),
                models: sp.GetRequiredService<ModelCatalog>()),
            sp.GetRequiredService<PromptLibrary>(),
            sp.GetRequiredService<IPriceTable>()));
        services.AddSingleton(sp => new WorkflowRunner(
            transforms: sp.GetRequiredService<TransformRegistry>(),
            llm: sp.GetRequiredService<ILlmGateway>(),
            external: sp.GetService<IExternalServiceGateway>(),
            prompts: sp.GetRequiredService<PromptLibrary>(),
            prices: sp.GetRequiredService<IPriceTable>(),
            time: sp.GetRequiredService<TimeProvider>(),
            modules: sp.GetServices<StepModule>()));
    }

    /// <summary>The readiness checks: PostgreSQL, the workers' heartbeats, dispatch; each bounded in time.</summary>
    private static void AddStorageHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"])
            // Document 001 reads the workers as services.celery (status and a numeric workers count): the alias tag
            // makes /health and /api/v1/health report this check under that name too.
            .AddCheck<WorkersHealthCheck>("workers", tags: ["ready", WorkersHealthCheck.CeleryAlias])
            .AddCheck<DispatchHealthCheck>("dispatch", tags: ["ready"]);
        services.PostConfigure<HealthCheckServiceOptions>(health =>
        {
            // A stalled PostgreSQL stops submissions (unhealthy); a stalled Redis only delays dispatch (degraded).
            TimeBoundHealthCheck.Apply(health, "database", HealthStatus.Unhealthy, "postgresql", "postgresql");
            TimeBoundHealthCheck.Apply(health, "workers", HealthStatus.Degraded, "redis (worker heartbeats)", "llmworkflow_worker");
            TimeBoundHealthCheck.Apply(health, "dispatch", HealthStatus.Degraded, "redis (worker heartbeats)", "redis_streams");
        });
    }

    /// <summary>
    /// The pricing file and the mock provider's canned answers come from the same workflows folder as the
    /// definitions (a published app's copy, or Workflows:Root), unless their own settings name another place.
    /// </summary>
    private static void UseWorkflowsFolderForDataFiles(IServiceCollection services, IConfiguration configuration, string workflowsRoot)
    {
        var pricing = Path.Combine(workflowsRoot, "pricing.json");
        if (configuration[$"{PricingOptions.SectionName}:{nameof(PricingOptions.FilePath)}"] is null && File.Exists(pricing))
        {
            services.PostConfigure<PricingOptions>(options => options.FilePath = pricing);
        }

        var mockResponses = Path.Combine(workflowsRoot, "mock-responses");
        if (configuration[$"{LlmOptions.SectionName}:Mock:{nameof(MockProviderOptions.ResponsesDirectory)}"] is null && Directory.Exists(mockResponses))
        {
            services.PostConfigure<LlmOptions>(options => options.Mock.ResponsesDirectory = mockResponses);
        }
    }

    /// <summary>Seconds to wait for a new connection (and for a free one in a full pool) unless the connection string says otherwise.</summary>
    public const int DefaultConnectTimeoutSeconds = 5;

    /// <summary>The connections a host's data source opens at most unless its connection string says otherwise.</summary>
    public const int DefaultMaxPoolSize = 20;

    /// <summary>
    /// The one Postgres data source of a host. The pipeline runs a handful of statements thousands of times, so they
    /// are prepared after a few uses (<c>Max Auto Prepare</c>): Postgres otherwise parses and plans every execution,
    /// which profiling put at about 30 % of its CPU. A pooled connection is handed out again without a reset
    /// (<c>No Reset On Close</c>): with prepared statements on it, Npgsql's reset is seven statements run before the
    /// next command (CLOSE ALL, RESET ALL, UNLISTEN *, …), as many as the pipeline's own per batch, and the service
    /// leaves no session state behind (settings are <c>SET LOCAL</c>, advisory locks are unlocked in <c>finally</c>;
    /// an open transaction is still rolled back). A host opens at most <see cref="DefaultMaxPoolSize"/> connections
    /// (<c>Maximum Pool Size</c>): commands queue for a free one instead of making Postgres start another backend in
    /// the middle of a burst, and every replica's pool together must fit the server's <c>max_connections</c>. A
    /// connection string that sets any of these keywords itself wins. The slim builder registers only the type families
    /// the schema uses (scalars, arrays of them, JSON), with TLS and Kerberos/GSSAPI sign-in as before: the full builder's
    /// other types (ranges, multiranges, network, geometric, full-text) build their mapping tables on a command's first
    /// array parameter, in a service's first request.
    /// </summary>
    public static NpgsqlDataSource CreateDataSource(string connectionString, ILoggerFactory? loggerFactory = null)
    {
        var builder = new NpgsqlSlimDataSourceBuilder(connectionString)
            .EnableArrays()
            .EnableJsonTypes()
            .EnableDynamicJson()
            .EnableTransportSecurity()
            .EnableIntegratedSecurity();
        if (loggerFactory is not null)
        {
            // Npgsql's own warnings (a broken connection, a failed prepare) reach the host's logs.
            builder.UseLoggerFactory(loggerFactory);
        }

        if (!Sets(connectionString, "Auto Prepare"))
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
        }

        if (!Sets(connectionString, "Reset On Close"))
        {
            builder.ConnectionStringBuilder.NoResetOnClose = true;
        }

        if (!Sets(connectionString, "Maximum Pool Size", "Max Pool Size", "MaxPoolSize"))
        {
            builder.ConnectionStringBuilder.MaxPoolSize = DefaultMaxPoolSize;
        }

        if (!new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.ContainsKey("Timeout"))
        {
            // Npgsql waits 15 s for a connection by default: an API request would wait that long to answer 503 when the
            // server is unreachable (not refusing, e.g. during a failover).
            builder.ConnectionStringBuilder.Timeout = DefaultConnectTimeoutSeconds;
        }

        return builder.Build();
    }

    /// <summary>Whether the connection string names any of the keywords (or their synonyms) itself.</summary>
    private static bool Sets(string connectionString, params string[] keywords) =>
        keywords.Any(keyword => connectionString.Contains(keyword, StringComparison.OrdinalIgnoreCase));
}
