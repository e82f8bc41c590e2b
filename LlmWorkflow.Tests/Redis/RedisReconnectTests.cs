using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Hosting;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Tests.Redis;

public sealed class RedisReconnectTests
{
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task CommandsFailFastWhileTheServerIsDownAndSucceedAfterItRestarts()
    {
        using var directory = new TemporaryDirectory();
        await using var server = new LocalRedis(new LocalRedisOptions { DataDirectory = directory.Path });
        await server.StartAsync(_ct);
        var options = RedisConnectionOptions.Parse(server.ConnectionString);
        options.ConnectTimeout = TimeSpan.FromSeconds(2);
        await using var client = new RedisClient(options);
        var id = await client.StreamAddAsync("jobs", [new("job_id", "j-1")], ct: _ct);
        var blockedRead = client.StreamReadAsync([("jobs", id)], 10, TimeSpan.FromMinutes(5), _ct);
        await RedisTestHelpers.WaitUntilBlockedAsync(client, "xread");

        await server.StopAsync(kill: true, _ct);

        // In flight: the blocked read; afterwards: new commands. None may hang.
        await Assert.ThrowsAsync<RedisConnectionException>(() => blockedRead.WaitAsync(TimeSpan.FromSeconds(10), _ct));
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<RedisConnectionException>(() => client.PingAsync(_ct).WaitAsync(TimeSpan.FromSeconds(10), _ct));
        }

        await server.StartAsync(_ct);

        var entries = await RedisTestHelpers.RetryAsync(() => client.StreamRangeAsync("jobs", ct: _ct), TimeSpan.FromSeconds(15));
        Assert.Equal(id, Assert.Single(entries).Id); // kept by the append-only file
        Assert.Empty(await client.StreamReadAsync([("jobs", id)], 10, TimeSpan.FromMilliseconds(100), _ct));
    }

    [Fact]
    public async Task NothingListeningFailsWithAConnectionErrorEveryTime()
    {
        var options = new RedisConnectionOptions { Host = "127.0.0.1", Port = PortAllocator.GetFreePort() };
        await using var client = new RedisClient(options);

        var error = await Assert.ThrowsAsync<RedisConnectionException>(() => client.PingAsync(_ct));
        await Assert.ThrowsAsync<RedisConnectionException>(() => client.PingAsync(_ct));

        Assert.Contains($"127.0.0.1:{options.Port}", error.Message, StringComparison.Ordinal);
    }
}
