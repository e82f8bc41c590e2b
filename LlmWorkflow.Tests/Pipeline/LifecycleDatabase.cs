using LlmWorkflow.Engine;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The pipeline's real stores (JobLifecycleStore, and JobRunStore with the worker's write batcher and held writes, JobCommands, JobMaintenance) on a test class's own
/// migrated database, with no worker running, so a test can put a job row in any state and attempt transitions on it.
/// </summary>
internal sealed class LifecycleDatabase : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private LifecycleDatabase(ServiceProvider services, NpgsqlDataSource database)
    {
        _services = services;
        Database = database;
    }

    public NpgsqlDataSource Database { get; }

    public JobLifecycleStore Store => _services.GetRequiredService<JobLifecycleStore>();

    /// <summary>A run's writes, as a worker sends them (through the write batcher).</summary>
    public JobRunStore Run => _services.GetRequiredService<JobRunStore>();

    /// <summary>A singleton of the composition, e.g. the submission batcher or the job queue.</summary>
    public T Get<T>()
        where T : notnull => _services.GetRequiredService<T>();

    public static async Task<LifecycleDatabase> CreateAsync(TestServers servers, string name, CancellationToken ct, IDictionary<string, string?>? settings = null)
    {
        var environment = await TestEnvironment.CreateAsync(servers, name);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(environment.Settings(settings)).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddLlmWorkflowCore(configuration);
        services.AddApiJobServices();
        // Connected here, asynchronously, not by a synchronous Connect in the factory: a test's first resolve came from a
        // burst of Task.Run submissions (SubmissionBatcherTests), whose pool threads then all blocked behind the connect
        // until the thread pool had grown one thread at a time (15 s), and every test in the process stalled with them (a
        // sleep's wake-up 12.9 s late beside it in CI). The provider still disposes it: it is returned by a factory.
        var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(configuration.GetConnectionString("redis") + ",abortConnect=false");
        services.AddSingleton<StackExchange.Redis.IConnectionMultiplexer>(_ => redis);
        services.AddSingleton<PostgresWriteBatcher>();
        services.AddSingleton<HeldWrites>();
        services.AddSingleton<JobRunStore>();
        services.AddSingleton<LiveEventPublisher>();
        // The database already holds the current schema (TestEnvironment copies the run's migrated template).
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<PostgresWriteBatcher>().StartAsync(ct);
        return new LifecycleDatabase(provider, provider.GetRequiredService<NpgsqlDataSource>());
    }

    /// <summary>Runs <paramref name="action"/> with a fresh scope's <see cref="JobCommands"/> (it is scoped, like a request).</summary>
    public async Task<T> CommandsAsync<T>(Func<JobCommands, Task<T>> action)
    {
        await using var scope = _services.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<JobCommands>());
    }

    public async Task<T> MaintenanceAsync<T>(Func<JobMaintenance, Task<T>> action)
    {
        await using var scope = _services.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<JobMaintenance>());
    }

    /// <summary>
    /// Inserts a job in <paramref name="status"/>. Running jobs are leased to <paramref name="leaseOwner"/>;
    /// <paramref name="leaseLapsed"/> and <paramref name="age"/> put the lease and the timestamps in the past.
    /// </summary>
    public async Task<Guid> InsertJobAsync(
        JobStatus status, string leaseOwner = "worker-a", bool leaseLapsed = false, TimeSpan? age = null, string? webhookUrl = "http://127.0.0.1:9/hook")
    {
        var id = Guid.CreateVersion7();
        var running = status == JobStatus.Processing;
        await using var command = Database.CreateCommand("""
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, webhook_url, webhook_secret,
                                           lease_owner, lease_expires_at, attempt, queued_at, dispatched_at, started_at,
                                           completed_at, created_at, updated_at)
            VALUES ($1, $1::text, 'hello_transform', $2, '{}', $3, 'secret',
                    $4, CASE WHEN $5 THEN now() - interval '1 minute' ELSE now() + interval '1 hour' END, $6,
                    now() - $7, now() - $7, CASE WHEN $6 > 0 THEN now() - $7 END,
                    CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() - $7 END, now() - $7, now() - $7)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = status.ToWire() });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)webhookUrl ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = running ? leaseOwner : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Varchar });
        command.Parameters.Add(new NpgsqlParameter { Value = leaseLapsed });
        command.Parameters.Add(new NpgsqlParameter { Value = status is JobStatus.Pending or JobStatus.Queued ? 0 : 1 });
        command.Parameters.Add(new NpgsqlParameter { Value = age ?? TimeSpan.Zero });
        await command.ExecuteNonQueryAsync();
        return id;
    }

    public async Task<JobStatus> StatusAsync(Guid id)
    {
        await using var command = Database.CreateCommand("SELECT status FROM llm_workflow_jobs WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        var text = (string)(await command.ExecuteScalarAsync())!;
        return JobStatusNames.TryParse(text, out var status) ? status : throw new InvalidOperationException(text);
    }

    /// <summary>The terminal webhook events recorded for a job (first attempts: one per event), with the sent body's status.</summary>
    public async Task<IReadOnlyList<(string EventType, string Status)>> TerminalEventsAsync(Guid id)
    {
        await using var command = Database.CreateCommand("""
            SELECT event_type, payload::text FROM llm_webhook_attempts
             WHERE job_id = $1 AND attempt_number = 1 AND event_type IN ('workflow.completed', 'workflow.failed', 'workflow.cancelled')
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync();
        var events = new List<(string, string)>();
        while (await reader.ReadAsync())
        {
            events.Add((reader.GetString(0), (string)LlmWorkflow.Storage.Webhooks.WebhookBodies.ToNode(reader.GetString(1))!["status"]!));
        }

        return events;
    }

    public async Task<long> CountAsync(string sql, Guid id)
    {
        await using var command = Database.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await _services.GetRequiredService<PostgresWriteBatcher>().StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
    }
}

/// <summary>
/// A <see cref="LifecycleDatabase"/> for a whole test class (<c>IClassFixture</c>), for classes whose tests each work on
/// the jobs they insert and never count rows of the whole table (docs/TESTING.md, "Keeping the run short").
/// </summary>
public class ClassLifecycleDatabase(TestServers servers) : IAsyncLifetime
{
    internal LifecycleDatabase Database { get; private set; } = null!;

    /// <summary>A subclass's settings on top of the environment's.</summary>
    protected virtual IDictionary<string, string?>? Settings => null;

    public async ValueTask InitializeAsync() =>
        Database = await LifecycleDatabase.CreateAsync(servers, GetType().Name, TestContext.Current.CancellationToken, Settings);

    public ValueTask DisposeAsync() => Database.DisposeAsync();
}
