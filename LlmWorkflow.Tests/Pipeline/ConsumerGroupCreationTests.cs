using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using LlmWorkflow.Worker.Jobs;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// A worker that finds the dispatch consumer group missing tells a first start from a loss (docs/JOB_LIFECYCLE.md,
/// Dispatch): jobs submitted before any worker ran keep their entries and are not sent again, and no data-loss
/// warning is logged; after a loss, only the queued jobs whose entries went are sent again, though jobs submitted
/// since the loss were dispatched (by PostgreSQL's clock) a moment before their entries were written.
/// </summary>
[IntegrationTest]
public sealed class ConsumerGroupCreationTests(TestServers servers) : IAsyncLifetime
{
    // How long before its XADD a job's dispatch time may be taken: the insert's transaction starts, commits (fsync on a
    // loaded machine), then the API writes the entry.
    private static readonly TimeSpan InsertToEntry = TimeSpan.FromMilliseconds(300);

    private readonly CapturingLoggerProvider _logs = new();
    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(ConsumerGroupCreationTests), TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task OnAFirstStartJobsSubmittedBeforeAnyWorkerKeepTheirEntriesAndNoLossIsLogged()
    {
        var ct = TestContext.Current.CancellationToken;
        var jobs = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            jobs.Add(await SubmitAsync(InsertToEntry, ct));
        }

        Assert.Equal(0, await NewReconciler().HealLostGroupsAsync(ct));

        Assert.Equal(jobs, await DispatchedJobIdsAsync());
        Assert.DoesNotContain(_logs.Lines, l => l.Level >= LogLevel.Warning);
        Assert.Contains(_logs.Lines, l => l.Message.StartsWith("Created the dispatch consumer group", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AfterALossOnlyTheJobsWhoseEntriesWentAreSentAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        await _db.Get<JobQueue>().EnsureConsumerGroupsAsync(ct);
        var lost = await SubmitAsync(TimeSpan.FromSeconds(30), ct);
        await _db.Get<IConnectionMultiplexer>().GetDatabase().KeyDeleteAsync([.. _db.Get<JobQueue>().StreamKeys.Select(k => (RedisKey)k)]);
        var sinceTheLoss = await SubmitAsync(InsertToEntry, ct);

        Assert.Equal(1, await NewReconciler().HealLostGroupsAsync(ct));

        Assert.Equal([sinceTheLoss, lost], await DispatchedJobIdsAsync());
        Assert.Contains(_logs.Lines, l => l.Level == LogLevel.Warning && l.Message.StartsWith("Redis lost the dispatch consumer group", StringComparison.Ordinal));
    }

    /// <summary>A queued job dispatched <paramref name="beforeItsEntry"/> ago, then its entry, as the API writes them.</summary>
    private async Task<Guid> SubmitAsync(TimeSpan beforeItsEntry, CancellationToken ct)
    {
        var id = await _db.InsertJobAsync(JobStatus.Queued, age: beforeItsEntry);
        await _db.Get<JobQueue>().EnqueueAsync(new JobDispatch(id, 5), ct);
        return id;
    }

    private DispatchReconciler NewReconciler() =>
        LapsedLeaseDispatchTests.NewReconciler(_db, new LoggerFactory([_logs]).CreateLogger<DispatchReconciler>());

    private Task<List<Guid>> DispatchedJobIdsAsync() => LapsedLeaseDispatchTests.DispatchedJobIdsAsync(_db);
}
