using System.Diagnostics;
using System.Globalization;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Tests.Redis;

public sealed class RedisClientTests(LocalRedisFixture redis) : IClassFixture<LocalRedisFixture>
{
    // Spins the server for a while; Redis is single-threaded, so everything else waits behind it.
    private const string BusyScript = "local s = redis.call('TIME'); local start = s[1] * 1000000 + s[2] "
        + "repeat local t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > tonumber(ARGV[1]) * 1000 return 'slow'";

    private readonly RedisClient _client = redis.Client;
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task PipelineOfAThousandCommandsKeepsOrder()
    {
        var key = LocalRedisFixture.UniqueKey("pipeline");
        var commands = Enumerable.Range(0, 1000).Select(_ => new RedisCommand("INCR", [key])).ToList();

        var replies = await _client.PipelineAsync(commands, _ct);

        Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long)i), replies.Select(r => r.AsInt64()));
    }

    [Fact]
    public async Task PipelineReturnsErrorRepliesAsValues()
    {
        var key = LocalRedisFixture.UniqueKey("mixed");

        var replies = await _client.PipelineAsync(
            [new("SET", [key, "text"]), new("INCR", [key]), new("GET", [key]), new("GET", [key + ":missing"])], _ct);

        Assert.Equal("OK", replies[0].AsString());
        Assert.True(replies[1].IsError);
        Assert.StartsWith("ERR value is not an integer", replies[1].AsString(), StringComparison.Ordinal);
        Assert.Equal("text", replies[2].AsString());
        Assert.True(replies[3].IsNull);
        Assert.Empty(await _client.PipelineAsync([], _ct));
    }

    [Fact]
    public async Task ErrorRepliesThrowServerExceptionsWithTheServerText()
    {
        var key = LocalRedisFixture.UniqueKey("wrongtype");
        await _client.HashSetAsync(key, [new("a", "b")], _ct);

        var error = await Assert.ThrowsAsync<RedisServerException>(() => _client.StringGetAsync(key, _ct));

        Assert.Equal("WRONGTYPE", error.Code);
        Assert.StartsWith("WRONGTYPE Operation against a key", error.Message, StringComparison.Ordinal);
        Assert.Equal("after", (await _client.ExecuteAsync("ECHO", ["after"], _ct)).AsString());
    }

    [Fact]
    public async Task ParallelCommandsOnSharedConnectionsEachGetTheirOwnReply()
    {
        var replies = await Task.WhenAll(Enumerable.Range(0, 2000).Select(async i =>
        {
            var text = i.ToString(CultureInfo.InvariantCulture);
            return (text, reply: (await _client.ExecuteAsync("ECHO", [text], _ct)).AsString());
        }));

        Assert.All(replies, r => Assert.Equal(r.text, r.reply));
    }

    [Fact]
    public async Task BinaryArgumentsRoundTrip()
    {
        var key = LocalRedisFixture.UniqueKey("binary");
        byte[] payload = [0, 1, 13, 10, 255];

        await _client.ExecuteAsync("SET", [key, payload], _ct);

        Assert.Equal(payload, (await _client.ExecuteAsync("GET", [key], _ct)).AsBytes());
    }

    [Fact]
    public async Task UnsupportedArgumentsAreRejectedBeforeAnythingIsSent() =>
        await Assert.ThrowsAsync<ArgumentException>(() => _client.ExecuteAsync("SET", ["k", TimeSpan.FromSeconds(1)], _ct));

    [Fact]
    public async Task BlockingReadThatTimesOutReturnsEmptyWithinBlockPlusMargin()
    {
        var key = LocalRedisFixture.UniqueKey("idle-queue");
        await _client.StreamCreateGroupAsync(key, "g", ct: _ct);
        var started = Stopwatch.GetTimestamp();

        var read = await _client.StreamReadGroupAsync("g", "c", [key], 10, TimeSpan.FromMilliseconds(300), _ct);

        Assert.Empty(read);
        Assert.InRange(Stopwatch.GetElapsedTime(started), TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(300) + redis.Options.CommandTimeout);
    }

    [Fact]
    public async Task BlockingReadIsWokenByAnAddFromAnotherClientWhileSharedConnectionsStayFree()
    {
        var key = LocalRedisFixture.UniqueKey("queue");
        await _client.StreamCreateGroupAsync(key, "g", ct: _ct);
        await using var producer = new RedisClient(redis.Options);

        var read = _client.StreamReadGroupAsync("g", "c", [key], 10, TimeSpan.FromSeconds(30), _ct);
        await RedisTestHelpers.WaitUntilBlockedAsync(_client, "xreadgroup");
        Assert.False(read.IsCompleted);
        Assert.Equal("PONG", (await _client.ExecuteAsync("PING", [], _ct)).AsString()); // not stuck behind the block
        var id = await producer.StreamAddAsync(key, [new("job_id", "j-1")], ct: _ct);

        var result = Assert.Single(await read.WaitAsync(TimeSpan.FromSeconds(5), _ct));
        Assert.Equal((key, id), (result.Stream, Assert.Single(result.Entries).Id));
    }

    [Fact]
    public async Task BlockingXReadIsWokenByNewEvents()
    {
        var key = LocalRedisFixture.UniqueKey("events");
        var read = _client.StreamReadAsync([(key, "$")], 100, TimeSpan.FromSeconds(30), _ct);
        await RedisTestHelpers.WaitUntilBlockedAsync(_client, "xread");

        await _client.StreamAddAsync(key, [new("type", "run_started")], ct: _ct);

        var entry = Assert.Single(Assert.Single(await read.WaitAsync(TimeSpan.FromSeconds(5), _ct)).Entries);
        Assert.Equal("run_started", entry.Fields["type"]);
    }

    [Fact]
    public async Task SequentialBlockingReadsReuseOneDedicatedConnection()
    {
        var options = redis.Options;
        options.Database = 7; // tells this client's connections apart in CLIENT LIST
        await using var client = new RedisClient(options);
        var key = LocalRedisFixture.UniqueKey("reuse");

        for (var i = 0; i < 5; i++)
        {
            Assert.Empty(await client.StreamReadAsync([(key, "$")], 1, TimeSpan.FromMilliseconds(10), _ct));
        }

        var clients = (await client.ExecuteAsync("CLIENT", ["LIST"], _ct)).AsString()!.Split('\n');
        Assert.Single(clients, line => line.Contains(" db=7 ", StringComparison.Ordinal) && line.Contains(" cmd=xread ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CancellingABlockingReadEndsItAndLaterReadsStillWork()
    {
        var key = LocalRedisFixture.UniqueKey("cancel");
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        var read = _client.StreamReadAsync([(key, "$")], 10, TimeSpan.FromMinutes(5), cancel.Token);
        await RedisTestHelpers.WaitUntilBlockedAsync(_client, "xread");

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(TimeSpan.FromSeconds(5), _ct));
        await _client.StreamAddAsync(key, [new("n", "1")], ct: _ct);
        var next = await _client.StreamReadAsync([(key, "0-0")], 10, TimeSpan.FromSeconds(5), _ct);
        Assert.Single(Assert.Single(next).Entries);
    }

    [Fact]
    public async Task ACancelledCommandsReplyIsStillConsumedSoLaterRepliesMatch()
    {
        var options = redis.Options;
        options.PoolSize = 1; // force both commands onto one connection
        await using var client = new RedisClient(options);
        await client.PingAsync(_ct);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ExecuteAsync("EVAL", [BusyScript, 0, 300], cancel.Token));

        Assert.Equal("next", (await client.ExecuteAsync("ECHO", ["next"], _ct)).AsString());
    }

    [Fact]
    public async Task ASlowReplyTimesOutAndTheClientRecovers()
    {
        var options = redis.Options;
        options.PoolSize = 1;
        options.CommandTimeout = TimeSpan.FromMilliseconds(200);
        await using var client = new RedisClient(options);

        await Assert.ThrowsAsync<RedisTimeoutException>(() => client.ExecuteAsync("EVAL", [BusyScript, 0, 600], _ct));

        // The server may still be busy with the script for a moment; the client itself must not be wedged.
        Assert.Equal("next", (await RedisTestHelpers.RetryAsync(() => client.ExecuteAsync("ECHO", ["next"], _ct), TimeSpan.FromSeconds(5))).AsString());
    }

    [Fact]
    public async Task DisposedClientRefusesCommands()
    {
        var client = new RedisClient(redis.Options);
        await client.PingAsync(_ct);
        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.PingAsync(_ct));
    }
}
