using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Redis;

/// <summary>
/// A worker's read of the dispatch streams against the real server: the bands highest first, each for what the ones
/// before it left of the count, never more than the count in all (what is read is pending for this worker until
/// acked); every Nth read starts at the lowest band; with every band empty it waits for the poll interval, then returns
/// nothing, unless a dispatch's notice wakes it first.
/// </summary>
[IntegrationTest]
public sealed class JobQueueReadTests(LocalRedisFixture redis) : IClassFixture<LocalRedisFixture>
{
    private readonly IConnectionMultiplexer _client = redis.Client;
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task BandsAreReadHighestFirstUpToTheCountAndEveryNthReadStartsAtTheLowest()
    {
        var queue = new JobQueue(_client, Options.Create(new QueueOptions
        {
            KeyPrefix = LocalRedisFixture.UniqueKey("bands"),
            LowPriorityEveryNthRead = 3,
            PollInterval = TimeSpan.FromMilliseconds(100),
        }));
        await queue.EnsureConsumerGroupsAsync(_ct);
        var high = await EnqueueAsync(queue, priority: 9, count: 3);
        var normal = await EnqueueAsync(queue, priority: 5, count: 4);
        var low = await EnqueueAsync(queue, priority: 1, count: 5);

        Guid[] first = [.. high, .. normal[..2]];
        Assert.Equal(first, await ReadAsync(queue, 5));
        Assert.Equal(5, await PendingAsync(queue, "worker-1"));
        Assert.Equal(normal[2..], await ReadAsync(queue, 2));
        Assert.Equal(low[..4], await ReadAsync(queue, 4)); // the third read: lowest band first
        Assert.Equal(low[4..], await ReadAsync(queue, 10));
        Assert.Equal(12, await PendingAsync(queue, "worker-1"));

        var started = DateTime.UtcNow;
        Assert.Empty(await ReadAsync(queue, 10));
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(90), "an empty read waits for the poll interval");
    }

    [Fact]
    public async Task AnIdleReadIsWokenByADispatchLongBeforeItsPollInterval()
    {
        var queue = new JobQueue(_client, Options.Create(new QueueOptions { KeyPrefix = LocalRedisFixture.UniqueKey("wake"), PollInterval = TimeSpan.FromSeconds(30) }));
        await queue.EnsureConsumerGroupsAsync(_ct);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var read = queue.ReadAsync("worker-1", 10, _ct);
        await Task.Delay(200, _ct);
        var sent = await EnqueueAsync(queue, priority: 5, count: 1);

        Guid[] received = [.. (await read.WaitAsync(TimeSpan.FromSeconds(10), _ct)).Select(j => j.Dispatch.JobId)];
        Assert.Equal(sent, received);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"the read took {started.Elapsed} (poll interval 30 s)");
    }

    [Fact]
    public async Task AcknowledgedEntriesAreTrimmedAndTheGroupsLagStaysKnown()
    {
        var queue = new JobQueue(_client, Options.Create(new QueueOptions { KeyPrefix = LocalRedisFixture.UniqueKey("trim"), PollInterval = TimeSpan.FromMilliseconds(50) }));
        await queue.EnsureConsumerGroupsAsync(_ct);
        var key = queue.StreamKey(PriorityBand.Normal);
        var db = _client.GetDatabase();
        await EnqueueAsync(queue, priority: 5, count: 10);

        var first = await queue.ReadAsync("worker-1", 4, _ct);
        var second = await queue.ReadAsync("worker-2", 2, _ct);
        await queue.AckAsync(first);
        Assert.Equal(4, await queue.TrimAcknowledgedAsync());
        Assert.Equal(6, await db.StreamLengthAsync(key)); // worker-2's two pending entries and the four not yet read

        await queue.AckAsync(second);
        Assert.Equal(2, await queue.TrimAcknowledgedAsync());
        Assert.Equal(4, await db.StreamLengthAsync(key));
        // KEDA scales on the group's lag: trimming (unlike XDEL) must leave Redis able to report it.
        var group = Assert.Single(await db.StreamGroupInfoAsync(key));
        Assert.Equal(4, group.Lag);

        await queue.AckAsync(await queue.ReadAsync("worker-1", 10, _ct));
        await queue.TrimAcknowledgedAsync();
        Assert.Equal(0, await db.StreamLengthAsync(key));
        Assert.Equal(0, Assert.Single(await db.StreamGroupInfoAsync(key)).Lag);
    }

    [Fact]
    public async Task AMissingGroupIsReportedAsSuchAndRecreatedOnlyWhereItIsMissing()
    {
        var queue = new JobQueue(_client, Options.Create(new QueueOptions { KeyPrefix = LocalRedisFixture.UniqueKey("lost"), PollInterval = TimeSpan.FromMilliseconds(50) }));
        Assert.Equal(queue.StreamKeys, await queue.EnsureConsumerGroupsAsync(_ct));
        Assert.Empty(await queue.EnsureConsumerGroupsAsync(_ct));

        // What FLUSHALL leaves behind once the API's next XADD recreates a stream: the key, without the group.
        var high = queue.StreamKey(PriorityBand.High);
        await _client.GetDatabase().KeyDeleteAsync(high);
        var sent = await EnqueueAsync(queue, priority: 9, count: 1);
        var error = await Assert.ThrowsAnyAsync<RedisException>(() => queue.ReadAsync("worker-1", 10, _ct));
        Assert.True(JobQueue.IsMissingGroup(error), error.Message);

        Assert.Equal([high], await queue.EnsureConsumerGroupsAsync(_ct));
        Assert.Equal(sent, await ReadAsync(queue, 10)); // the group starts at 0: the entry added before it is read
    }

    private async Task<Guid[]> EnqueueAsync(JobQueue queue, int priority, int count)
    {
        JobDispatch[] dispatches = [.. Enumerable.Range(0, count).Select(_ => new JobDispatch(Guid.NewGuid(), priority))];
        await queue.EnqueueManyAsync(dispatches, _ct);
        return [.. dispatches.Select(d => d.JobId)];
    }

    private async Task<Guid[]> ReadAsync(JobQueue queue, int count) =>
        [.. (await queue.ReadAsync("worker-1", count, _ct)).Select(j => j.Dispatch.JobId)];

    private async Task<long> PendingAsync(JobQueue queue, string consumer)
    {
        long pending = 0;
        foreach (var key in queue.StreamKeys)
        {
            var summary = await _client.GetDatabase().StreamPendingAsync(key, queue.ConsumerGroup);
            pending += summary.Consumers.Where(c => c.Name == consumer).Sum(c => c.PendingMessageCount);
        }

        return pending;
    }
}
