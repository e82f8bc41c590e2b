using System.Diagnostics;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Redis;

public sealed class RedisTransactionCommandsTests(LocalRedisFixture redis) : IClassFixture<LocalRedisFixture>
{
    private readonly IRedisClient _client = redis.Client;
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task RepliesComeBackInOrderAndACommandFailingAtRunTimeIsAValue()
    {
        var key = LocalRedisFixture.UniqueKey("tx");
        var replies = await _client.TransactionAsync(
        [
            new RedisCommand("SET", [key, "1"]),
            new RedisCommand("INCR", [key]),
            new RedisCommand("LPUSH", [key, "x"]),
            new RedisCommand("GET", [key]),
        ], _ct);

        Assert.Equal(["OK", "2", null, "2"], replies.Select(r => r.IsError ? null : r.AsString()));
        Assert.StartsWith("WRONGTYPE", replies[2].AsString());
    }

    [Fact]
    public async Task ACommandRefusedWhileQueuingAbortsTheWholeTransaction()
    {
        var key = LocalRedisFixture.UniqueKey("aborted");
        var ex = await Assert.ThrowsAsync<RedisServerException>(() => _client.TransactionAsync(
        [
            new RedisCommand("SET", [key, "1"]),
            new RedisCommand("NOSUCHCOMMAND", [key]),
        ], _ct));

        Assert.Equal("EXECABORT", ex.Code);
        Assert.Contains("NOSUCHCOMMAND", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.True((await _client.ExecuteAsync("GET", [key], _ct)).IsNull);
    }

    // The premise of the transactional enqueue, checked against the real server: a reader blocked on a stream is served
    // after each command of a plain pipeline (so it wakes with one entry), and after a transaction only at EXEC.
    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 10)]
    public async Task ABlockedGroupReaderWakesWithTheFirstEntryOfAPipelineButEveryEntryOfATransaction(bool transaction, int expected)
    {
        var key = LocalRedisFixture.UniqueKey("wake");
        await _client.StreamCreateGroupAsync(key, "workers", "0", createStream: true, ct: _ct);
        var read = _client.StreamReadGroupAsync("workers", "w1", [key], 100, TimeSpan.FromSeconds(10), _ct);
        await WaitUntilBlockedAsync(key);

        RedisCommand[] adds = [.. Enumerable.Range(0, 10).Select(i => new RedisCommand("XADD", [key, "*", "n", i]))];
        _ = transaction ? await _client.TransactionAsync(adds, _ct) : await _client.PipelineAsync(adds, _ct);

        Assert.Equal(expected, (await read).Sum(r => r.Entries.Count));
    }

    [Fact]
    public async Task AWorkerBlockedInItsReadWakesWithTheWholeEnqueuedBatch()
    {
        var queue = new JobQueue(_client, Options.Create(new QueueOptions { KeyPrefix = LocalRedisFixture.UniqueKey("q") }));
        await queue.EnsureConsumerGroupsAsync(_ct);
        var read = queue.ReadAsync("worker-1", 100, _ct);
        await WaitUntilBlockedAsync(queue.StreamKey(PriorityBand.Normal));

        JobDispatch[] batch = [.. Enumerable.Range(0, 12).Select(_ => new JobDispatch(Guid.NewGuid(), 5))];
        await queue.EnqueueManyAsync(batch, _ct);

        Assert.Equal(batch.Select(d => d.JobId), (await read).Select(j => j.Dispatch.JobId));
    }

    [Fact]
    public async Task ATransactionsSpanIsNamedForTheCommandsItWrapsAndAMixedPipelineIsPipeline()
    {
        var key = LocalRedisFixture.UniqueKey("spans");
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var root = new Activity("test").Start();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RedisTelemetry.ActivitySource.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span => { if (span.TraceId == root.TraceId) { spans.Enqueue(span); } },
        };
        ActivitySource.AddActivityListener(listener);

        await _client.TransactionAsync([.. Enumerable.Range(0, 3).Select(i => new RedisCommand("XADD", [key, "*", "n", i]))], _ct);
        await _client.PipelineAsync([new RedisCommand("XLEN", [key]), new RedisCommand("TYPE", [key])], _ct);

        Assert.Equal([("XADD", 3), ("PIPELINE", 2)], spans.Select(s => (s.DisplayName, (int)s.GetTagItem("db.operation.batch.size")!)));
    }

    /// <summary>Waits until CLIENT LIST shows a connection blocked in XREADGROUP (the read must be waiting, not yet sent).</summary>
    private async Task WaitUntilBlockedAsync(string key)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var clients = (await _client.ExecuteAsync("CLIENT", ["LIST"], _ct)).AsString()!;
            if (clients.Split('\n').Any(c => c.Contains("cmd=xreadgroup", StringComparison.Ordinal) && c.Contains("flags=b", StringComparison.Ordinal)))
            {
                return;
            }

            await Task.Delay(10, _ct);
        }

        throw new TimeoutException($"No reader blocked on {key} within 10 s.");
    }
}
