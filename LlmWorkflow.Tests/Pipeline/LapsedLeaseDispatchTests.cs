using LlmWorkflow.Storage.Jobs;
using StackExchange.Redis;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Worker.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The Postgres lease is the one record of who runs a job (docs/JOB_LIFECYCLE.md, "Who runs a job"): a dead worker's
/// job is handed on by the reconciler writing a new stream entry once its lease has lapsed (DispatchLapsed), once
/// per lapse, and never for a job whose lease still holds or whose caller asked it to stop. A queued job whose entry
/// may be lost gets a new one once per <see cref="WorkerOptions.RedispatchAfter"/>.
/// </summary>
[IntegrationTest]
public sealed class LapsedLeaseDispatchTests(TestServers servers) : IAsyncLifetime
{
    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync()
    {
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(LapsedLeaseDispatchTests), TestContext.Current.CancellationToken);
        await _db.Get<JobQueue>().EnsureConsumerGroupsAsync(TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task ALapsedLeaseGetsOneEntryPerLapseAndALiveOrStoppedJobNone()
    {
        var ct = TestContext.Current.CancellationToken;
        var reconciler = NewReconciler();
        var age = TimeSpan.FromMinutes(1.5); // last dispatched before the lease lapsed, within RedispatchAfter
        var dead = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true, age: age);
        var alive = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: false, age: age);
        var stopping = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true, age: age);
        await _db.CountAsync("WITH u AS (UPDATE llm_workflow_jobs SET cancel_requested_at = now() WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", stopping);

        Assert.Equal(1, await reconciler.ReconcileAsync(ct));
        Assert.Equal([dead], await DispatchedJobIdsAsync());

        // Once per lapse: the next ticks leave the entry alone while the job waits for a worker to reclaim it.
        Assert.Equal(0, await reconciler.ReconcileAsync(ct));
        Assert.Equal([dead], await DispatchedJobIdsAsync());

        // Reclaimed by another worker which then died too: its lease lapses after the last entry, so one more entry.
        Assert.Single(await _db.Store.ClaimAsync([dead], "worker-b", TimeSpan.FromSeconds(30), ct));
        await _db.CountAsync("""
            WITH u AS (UPDATE llm_workflow_jobs SET dispatched_at = now() - interval '20 seconds', lease_expires_at = now() - interval '10 seconds'
                        WHERE id = $1 RETURNING 1)
            SELECT count(*) FROM u
            """, dead);
        Assert.Equal(1, await reconciler.ReconcileAsync(ct));
        Assert.Equal([dead, dead], await DispatchedJobIdsAsync());
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(alive));
    }

    [Fact]
    public async Task AQueuedJobWhoseEntryMayBeLostIsSentAgainOldestFirstOncePerRedispatchWindow()
    {
        var ct = TestContext.Current.CancellationToken;
        var reconciler = NewReconciler();
        // Last dispatched longer ago than RedispatchAfter (2 minutes): the entry may be lost. Inserted newest first.
        var old = await _db.InsertJobAsync(JobStatus.Queued, age: TimeSpan.FromMinutes(3));
        var older = await _db.InsertJobAsync(JobStatus.Queued, age: TimeSpan.FromMinutes(4));
        await _db.InsertJobAsync(JobStatus.Queued, age: TimeSpan.FromSeconds(30));
        await _db.InsertJobAsync(JobStatus.Completed, age: TimeSpan.FromMinutes(5));

        Assert.Equal(2, await reconciler.ReconcileAsync(ct));
        Assert.Equal([older, old], await DispatchedJobIdsAsync());

        // Marked as dispatched by the same statement: the next tick leaves them alone.
        Assert.Equal(0, await reconciler.ReconcileAsync(ct));
        Assert.Equal([older, old], await DispatchedJobIdsAsync());
    }

    private DispatchReconciler NewReconciler() => NewReconciler(_db);

    private Task<List<Guid>> DispatchedJobIdsAsync() => DispatchedJobIdsAsync(_db);

    /// <summary>A reconciler over the test's database and Redis, with the shipped worker settings.</summary>
    internal static DispatchReconciler NewReconciler(LifecycleDatabase db, ILogger<DispatchReconciler>? logger = null) => new(
        db.Store, db.Get<JobQueue>(), new TenantConcurrency(Options.Create(new TenantConcurrencyOptions())),
        new TenantSlotShares(Options.Create(new WorkerOptions()), Options.Create(new LlmWorkflow.Engine.Llm.Admission.AdmissionOptions())), Options.Create(new WorkerOptions()), TimeProvider.System,
        logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger<DispatchReconciler>.Instance);

    /// <summary>The job ids of every entry on the dispatch streams, band by band, oldest first.</summary>
    internal static async Task<List<Guid>> DispatchedJobIdsAsync(LifecycleDatabase db)
    {
        var queue = db.Get<JobQueue>();
        var redis = db.Get<IConnectionMultiplexer>().GetDatabase();
        var ids = new List<Guid>();
        foreach (var key in queue.StreamKeys)
        {
            ids.AddRange((await redis.StreamRangeAsync(key)).Select(e => Guid.Parse((string)e["job_id"]!)));
        }

        return ids;
    }
}
