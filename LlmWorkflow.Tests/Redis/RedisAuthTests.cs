using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Tests.Redis;

public sealed class RedisAuthTests(PasswordRedisFixture redis) : IClassFixture<PasswordRedisFixture>
{
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task PasswordFromAUrlAuthenticates()
    {
        await using var client = RedisClient.Connect($"redis://:{Uri.EscapeDataString(PasswordRedisFixture.Password)}@127.0.0.1:{redis.Server.Port}/2");

        Assert.True(await client.StringSetAsync("auth:db2", "yes", ct: _ct));
        Assert.Equal("2", (await client.ExecuteAsync("CLIENT", ["INFO"], _ct)).AsString()!.Split(' ').Single(p => p.StartsWith("db=", StringComparison.Ordinal))[3..]);
    }

    [Fact]
    public async Task AclUserAndPasswordAuthenticate()
    {
        await using (var admin = new RedisClient(Options(PasswordRedisFixture.Password)))
        {
            await admin.ExecuteAsync("ACL", ["SETUSER", "worker", "on", ">worker-pass", "~*", "+@all"], _ct);
        }
        var options = Options("worker-pass");
        options.User = "worker";
        await using var client = new RedisClient(options);

        Assert.Equal("worker", (await client.ExecuteAsync("ACL", ["WHOAMI"], _ct)).AsString());
    }

    [Fact]
    public async Task WrongPasswordFailsWithAClearConnectionError()
    {
        await using var client = new RedisClient(Options("not-it"));

        var error = await Assert.ThrowsAsync<RedisConnectionException>(() => client.PingAsync(_ct));

        Assert.Contains("rejected AUTH", error.Message, StringComparison.Ordinal);
        Assert.Contains("WRONGPASS", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingPasswordSurfacesTheServersNoAuthError()
    {
        await using var client = new RedisClient(Options(null));

        var error = await Assert.ThrowsAsync<RedisServerException>(() => client.PingAsync(_ct));

        Assert.Equal("NOAUTH", error.Code);
    }

    private RedisConnectionOptions Options(string? password) => new() { Host = "127.0.0.1", Port = redis.Server.Port, Password = password };
}
