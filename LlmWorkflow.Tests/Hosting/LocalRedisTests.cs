using LlmWorkflow.AppHost.Resources;

namespace LlmWorkflow.Tests.Hosting;

public sealed class LocalRedisTests
{
    [Fact]
    public async Task StartedServerAnswersPingOnItsPort()
    {
        var ct = TestContext.Current.CancellationToken;
        using var directory = new TemporaryDirectory();
        await using var redis = new LocalRedis(new() { DataDirectory = directory.Path });
        await redis.StartAsync(ct);

        await using var connection = await RawRedisConnection.ConnectAsync(redis.Port, ct);
        Assert.Equal("+PONG", await connection.SendAsync(ct, "PING"));
        Assert.Equal($"127.0.0.1:{redis.Port}", redis.ConnectionString);
    }

    [Fact]
    public async Task PasswordIsRequiredWhenSet()
    {
        var ct = TestContext.Current.CancellationToken;
        using var directory = new TemporaryDirectory();
        await using var redis = new LocalRedis(new() { DataDirectory = directory.Path, Password = "s3cret" });
        await redis.StartAsync(ct);

        await using var connection = await RawRedisConnection.ConnectAsync(redis.Port, ct);
        Assert.StartsWith("-NOAUTH", await connection.SendAsync(ct, "PING"));
        Assert.Equal("+OK", await connection.SendAsync(ct, "AUTH", "s3cret"));
        Assert.Equal("+PONG", await connection.SendAsync(ct, "PING"));
        Assert.EndsWith(",password=s3cret", redis.ConnectionString);
    }

    [Fact]
    public async Task DataSurvivesAKillAndRestartThroughTheAppendOnlyFile()
    {
        var ct = TestContext.Current.CancellationToken;
        using var directory = new TemporaryDirectory();
        await using var redis = new LocalRedis(new() { DataDirectory = directory.Path });
        await redis.StartAsync(ct);
        await using (var connection = await RawRedisConnection.ConnectAsync(redis.Port, ct))
        {
            Assert.Equal("+OK", await connection.SendAsync(ct, "SET", "job:1", "queued"));
        }

        var firstProcessId = redis.ProcessId;
        await redis.StopAsync(kill: true, ct);
        Assert.Null(redis.ProcessId);
        await redis.StartAsync(ct);

        Assert.NotEqual(firstProcessId, redis.ProcessId);
        await using var reconnected = await RawRedisConnection.ConnectAsync(redis.Port, ct);
        Assert.Equal("queued", await reconnected.SendAsync(ct, "GET", "job:1"));
    }

    [Fact]
    public async Task CleanStopShutsTheServerDownGracefully()
    {
        var ct = TestContext.Current.CancellationToken;
        using var directory = new TemporaryDirectory();
        await using var redis = new LocalRedis(new() { DataDirectory = directory.Path });
        await redis.StartAsync(ct);
        using var process = System.Diagnostics.Process.GetProcessById(redis.ProcessId!.Value);

        await redis.StopAsync(kill: false, ct);

        Assert.True(process.HasExited);
        // Redis logs this only after a SIGTERM shutdown that flushed the append-only file.
        Assert.Contains("ready to exit", await File.ReadAllTextAsync(redis.LogFile, ct), StringComparison.Ordinal);
    }
}
