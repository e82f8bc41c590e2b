using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Tests.Redis;

public sealed class RedisStreamCommandsTests(LocalRedisFixture redis) : IClassFixture<LocalRedisFixture>
{
    private readonly IRedisClient _client = redis.Client;
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task AddRangeLengthDeleteAndTrim()
    {
        var key = LocalRedisFixture.UniqueKey("stream");
        List<string> ids = [];
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await _client.StreamAddAsync(key, [new("job_id", $"job-{i}"), new("priority", "5")], ct: _ct));
        }

        Assert.Equal(5, await _client.StreamLengthAsync(key, _ct));
        var all = await _client.StreamRangeAsync(key, ct: _ct);
        Assert.Equal(ids, all.Select(e => e.Id));
        Assert.Equal("job-3", all[3].Fields["job_id"]);
        Assert.Equal(ids[1..3], (await _client.StreamRangeAsync(key, ids[1], "+", 2, _ct)).Select(e => e.Id));

        Assert.Equal(1, await _client.StreamDeleteAsync(key, ids[0]));
        Assert.Equal(4, await _client.StreamLengthAsync(key, _ct));
        Assert.Equal(4, await _client.StreamTrimAsync(key, 0, _ct) + await _client.StreamLengthAsync(key, _ct));
    }

    [Fact]
    public async Task AddWithMaxLengthKeepsTheStreamBounded()
    {
        var key = LocalRedisFixture.UniqueKey("capped");
        for (var i = 0; i < 500; i++)
        {
            await _client.StreamAddAsync(key, [new("n", i.ToString(System.Globalization.CultureInfo.InvariantCulture))], maxLengthApprox: 100, ct: _ct);
        }
        // "~" trims whole radix-tree nodes (100 entries each by default), so the length stays near, never far above, the cap.
        Assert.InRange(await _client.StreamLengthAsync(key, _ct), 100, 200);
    }

    [Fact]
    public async Task ExplicitIdsAreUsed()
    {
        var key = LocalRedisFixture.UniqueKey("explicit");
        Assert.Equal("5-1", await _client.StreamAddAsync(key, [new("a", "b")], id: "5-1", ct: _ct));
        await Assert.ThrowsAsync<RedisServerException>(() => _client.StreamAddAsync(key, [new("a", "b")], id: "5-1", ct: _ct));
    }

    [Fact]
    public async Task CreatingAGroupTwiceReportsItExists()
    {
        var key = LocalRedisFixture.UniqueKey("group");

        Assert.True(await _client.StreamCreateGroupAsync(key, "workers", ct: _ct));
        Assert.False(await _client.StreamCreateGroupAsync(key, "workers", ct: _ct));
        await Assert.ThrowsAsync<RedisServerException>(() =>
            _client.StreamCreateGroupAsync(LocalRedisFixture.UniqueKey("absent"), "workers", createStream: false, ct: _ct));
    }

    [Fact]
    public async Task ReadGroupDeliversEachEntryOnceAcrossKeysThenAckClearsPending()
    {
        var high = LocalRedisFixture.UniqueKey("high");
        var low = LocalRedisFixture.UniqueKey("low");
        await _client.StreamCreateGroupAsync(high, "g", ct: _ct);
        await _client.StreamCreateGroupAsync(low, "g", ct: _ct);
        var highId = await _client.StreamAddAsync(high, [new("job_id", "h1")], ct: _ct);
        var lowId = await _client.StreamAddAsync(low, [new("job_id", "l1")], ct: _ct);

        var read = await _client.StreamReadGroupAsync("g", "c1", [high, low], 10, block: null, _ct);

        Assert.Equal([high, low], read.Select(r => r.Stream));
        Assert.Equal("h1", Assert.Single(read[0].Entries).Fields["job_id"]);
        Assert.Equal(lowId, Assert.Single(read[1].Entries).Id);
        Assert.Empty(await _client.StreamReadGroupAsync("g", "c2", [high, low], 10, block: null, _ct));

        var pending = await _client.StreamPendingAsync(high, "g", _ct);
        Assert.Equal((1L, highId, highId), (pending.Count, pending.MinId, pending.MaxId));
        Assert.Equal([("c1", 1L)], pending.Consumers);

        Assert.Equal(1, await _client.StreamAckAsync(high, "g", highId, "0-1"));
        var empty = await _client.StreamPendingAsync(high, "g", _ct);
        Assert.Equal((0L, (string?)null, (string?)null), (empty.Count, empty.MinId, empty.MaxId));
        Assert.Empty(empty.Consumers);
    }

    [Fact]
    public async Task PendingRangeFiltersByConsumerAndIdleTime()
    {
        var key = LocalRedisFixture.UniqueKey("pending");
        await _client.StreamCreateGroupAsync(key, "g", ct: _ct);
        var first = await _client.StreamAddAsync(key, [new("n", "1")], ct: _ct);
        var second = await _client.StreamAddAsync(key, [new("n", "2")], ct: _ct);
        await _client.StreamReadGroupAsync("g", "c1", [key], 1, null, _ct);
        await _client.StreamReadGroupAsync("g", "c2", [key], 1, null, _ct);

        var all = await _client.StreamPendingRangeAsync(key, "g", 10, ct: _ct);
        Assert.Equal([(first, "c1", 1L), (second, "c2", 1L)], all.Select(p => (p.Id, p.Consumer, p.DeliveryCount)));
        Assert.All(all, p => Assert.True(p.IdleMs >= 0));

        Assert.Equal(second, Assert.Single(await _client.StreamPendingRangeAsync(key, "g", 10, consumer: "c2", ct: _ct)).Id);
        Assert.Empty(await _client.StreamPendingRangeAsync(key, "g", 10, minIdle: TimeSpan.FromHours(1), ct: _ct));
    }

    [Fact]
    public async Task AutoClaimTakesOverIdleEntriesAndReportsDeletedOnes()
    {
        var key = LocalRedisFixture.UniqueKey("autoclaim");
        await _client.StreamCreateGroupAsync(key, "g", ct: _ct);
        var kept = await _client.StreamAddAsync(key, [new("job_id", "kept")], ct: _ct);
        var deleted = await _client.StreamAddAsync(key, [new("job_id", "gone")], ct: _ct);
        await _client.StreamReadGroupAsync("g", "dead-worker", [key], 10, null, _ct);

        var notYet = await _client.StreamAutoClaimAsync(key, "g", "live-worker", TimeSpan.FromHours(1), "0-0", 10, _ct);
        Assert.Empty(notYet.Entries);

        await _client.StreamDeleteAsync(key, deleted);

        var claimed = await _client.StreamAutoClaimAsync(key, "g", "live-worker", TimeSpan.Zero, "0-0", 10, _ct);

        Assert.Equal("0-0", claimed.NextStart);
        Assert.Equal("kept", Assert.Single(claimed.Entries).Fields["job_id"]);
        Assert.Equal([deleted], claimed.DeletedIds);
        Assert.Equal([(kept, "live-worker", 2L)],
            (await _client.StreamPendingRangeAsync(key, "g", 10, ct: _ct)).Select(p => (p.Id, p.Consumer, p.DeliveryCount)));
    }

    [Fact]
    public async Task ClaimRenewsOwnershipWithoutCountingADelivery()
    {
        var key = LocalRedisFixture.UniqueKey("claim");
        await _client.StreamCreateGroupAsync(key, "g", ct: _ct);
        var id = await _client.StreamAddAsync(key, [new("job_id", "j")], ct: _ct);
        await _client.StreamReadGroupAsync("g", "w1", [key], 10, null, _ct);

        Assert.Equal([id], await _client.StreamClaimAsync(key, "g", "w1", TimeSpan.Zero, [id], ct: _ct));
        Assert.Equal(1, Assert.Single(await _client.StreamPendingRangeAsync(key, "g", 10, ct: _ct)).DeliveryCount);

        Assert.Equal([id], await _client.StreamClaimAsync(key, "g", "w2", TimeSpan.Zero, [id], justId: false, _ct));
        Assert.Equal(("w2", 2L), Assert.Single(await _client.StreamPendingRangeAsync(key, "g", 10, ct: _ct)) is var p ? (p.Consumer, p.DeliveryCount) : default);

        Assert.Empty(await _client.StreamClaimAsync(key, "g", "w3", TimeSpan.FromHours(1), [id], ct: _ct));
    }

    [Fact]
    public async Task ReadReturnsEntriesAfterTheGivenIds()
    {
        var first = LocalRedisFixture.UniqueKey("events-a");
        var second = LocalRedisFixture.UniqueKey("events-b");
        var a1 = await _client.StreamAddAsync(first, [new("type", "run_started")], ct: _ct);
        var a2 = await _client.StreamAddAsync(first, [new("type", "step_started")], ct: _ct);
        await _client.StreamAddAsync(second, [new("type", "run_started")], ct: _ct);

        var read = await _client.StreamReadAsync([(first, a1), (second, "0-0")], 10, block: null, _ct);

        Assert.Equal(a2, Assert.Single(read[0].Entries).Id);
        Assert.Equal(second, read[1].Stream);
        Assert.Empty(await _client.StreamReadAsync([(first, a2)], 10, block: null, _ct));
    }

    [Fact]
    public async Task InfoReportsGroupsAndConsumers()
    {
        var key = LocalRedisFixture.UniqueKey("info");
        await _client.StreamCreateGroupAsync(key, "g", ct: _ct);
        await _client.StreamAddAsync(key, [new("n", "1")], ct: _ct);
        var delivered = await _client.StreamAddAsync(key, [new("n", "2")], ct: _ct);
        await _client.StreamAddAsync(key, [new("n", "3")], ct: _ct);
        await _client.StreamReadGroupAsync("g", "worker-1", [key], 2, null, _ct);

        var group = Assert.Single(await _client.StreamGroupsInfoAsync(key, _ct));
        Assert.Equal(new StreamGroupInfo("g", 1, 2, delivered, 1), group);

        var consumer = Assert.Single(await _client.StreamConsumersInfoAsync(key, "g", _ct));
        Assert.Equal(("worker-1", 2L), (consumer.Name, consumer.Pending));
        Assert.True(consumer.Idle >= TimeSpan.Zero);
    }
}
