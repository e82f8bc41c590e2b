using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Tests.Redis;

public sealed class RedisKeyCommandsTests(LocalRedisFixture redis) : IClassFixture<LocalRedisFixture>
{
    private readonly IRedisClient _client = redis.Client;
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task PingAnswers() =>
        Assert.True(await _client.PingAsync(_ct) > TimeSpan.Zero);

    [Fact]
    public async Task StringsRoundTripIncludingMissingKeys()
    {
        var key = LocalRedisFixture.UniqueKey("string");

        Assert.Null(await _client.StringGetAsync(key, _ct));
        Assert.True(await _client.StringSetAsync(key, "héllo", ct: _ct));
        Assert.Equal("héllo", await _client.StringGetAsync(key, _ct));
        Assert.True(await _client.KeyExistsAsync(key, _ct));
        Assert.Equal(1, await _client.KeyDeleteAsync(key, LocalRedisFixture.UniqueKey("never-set")));
        Assert.False(await _client.KeyExistsAsync(key, _ct));
    }

    [Fact]
    public async Task SetWithExpiryAndOnlyIfNotExistsActsAsALock()
    {
        var key = LocalRedisFixture.UniqueKey("lock");

        Assert.True(await _client.StringSetAsync(key, "owner-1", TimeSpan.FromSeconds(30), onlyIfNotExists: true, _ct));
        Assert.False(await _client.StringSetAsync(key, "owner-2", TimeSpan.FromSeconds(30), onlyIfNotExists: true, _ct));
        Assert.Equal("owner-1", await _client.StringGetAsync(key, _ct));
        var ttl = (await _client.ExecuteAsync("PTTL", [key], _ct)).AsInt64();
        Assert.InRange(ttl, 1, 30_000);
    }

    [Fact]
    public async Task ExpireSetsATimeToLive()
    {
        var key = LocalRedisFixture.UniqueKey("expire");

        Assert.False(await _client.KeyExpireAsync(key, TimeSpan.FromSeconds(5), _ct));
        await _client.StringSetAsync(key, "v", ct: _ct);
        Assert.True(await _client.KeyExpireAsync(key, TimeSpan.FromMilliseconds(1500), _ct));
        Assert.InRange((await _client.ExecuteAsync("PTTL", [key], _ct)).AsInt64(), 1, 1500);
    }

    [Fact]
    public async Task IncrementCounts()
    {
        var key = LocalRedisFixture.UniqueKey("counter");

        Assert.Equal(1, await _client.IncrementAsync(key, ct: _ct));
        Assert.Equal(11, await _client.IncrementAsync(key, 10, _ct));
        Assert.Equal(8, await _client.IncrementAsync(key, -3, _ct));
    }

    [Fact]
    public async Task ScanFindsEveryMatchingKeyAcrossPages()
    {
        var prefix = LocalRedisFixture.UniqueKey("scan");
        var expected = Enumerable.Range(0, 120).Select(i => $"{prefix}:{i}").ToList();
        await _client.PipelineAsync([.. expected.Select(key => new RedisCommand("SET", [key, "1"]))], _ct);
        await _client.StringSetAsync(prefix + "-other", "1", ct: _ct);

        var found = await _client.ScanKeysAsync(prefix + ":*", pageSize: 10, _ct);

        Assert.Equal(expected.Order(), found.Order());
    }

    [Fact]
    public async Task HashesRoundTrip()
    {
        var key = LocalRedisFixture.UniqueKey("hash");

        Assert.Empty(await _client.HashGetAllAsync(key, _ct));
        Assert.Equal(2, await _client.HashSetAsync(key, [new("worker", "w-1"), new("started", "2026-01-01T00:00:00Z")], _ct));
        Assert.Equal(0, await _client.HashSetAsync(key, [new("worker", "w-2")], _ct));

        var hash = await _client.HashGetAllAsync(key, _ct);
        Assert.Equal(new Dictionary<string, string> { ["worker"] = "w-2", ["started"] = "2026-01-01T00:00:00Z" }, hash);
    }

    [Fact]
    public async Task FlushDatabaseEmptiesOnlyTheSelectedDatabase()
    {
        var options = redis.Options;
        options.Database = 5;
        await using var other = new RedisClient(options);
        var key = LocalRedisFixture.UniqueKey("flush");
        await other.StringSetAsync(key, "in-db-5", ct: _ct);
        await _client.StringSetAsync(key, "in-db-0", ct: _ct);

        await other.FlushDatabaseAsync(_ct);

        Assert.False(await other.KeyExistsAsync(key, _ct));
        Assert.Equal("in-db-0", await _client.StringGetAsync(key, _ct));
    }

    [Fact]
    public async Task ScriptsRunBySha1AndReloadAfterAScriptFlush()
    {
        const string Script = "return redis.call('INCRBY', KEYS[1], ARGV[1]) + tonumber(ARGV[2])";
        var key = LocalRedisFixture.UniqueKey("script");

        Assert.Equal(105, (await _client.ScriptEvaluateAsync(Script, [key], [5, "100"], _ct)).AsInt64());
        Assert.Equal(110, (await _client.ScriptEvaluateAsync(Script, [key], [5, 100L], _ct)).AsInt64());
        await _client.ExecuteAsync("SCRIPT", ["FLUSH"], _ct);
        Assert.Equal(115, (await _client.ScriptEvaluateAsync(Script, [key], [5, 100.0], _ct)).AsInt64());
    }

    [Fact]
    public async Task ScriptErrorsAreServerExceptions()
    {
        var error = await Assert.ThrowsAsync<RedisServerException>(() =>
            _client.ScriptEvaluateAsync("return redis.error_reply('LIMITED try later')", [], [], _ct));
        Assert.Equal("LIMITED", error.Code);
    }
}
