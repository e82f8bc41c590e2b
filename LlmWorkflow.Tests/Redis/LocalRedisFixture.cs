using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Hosting;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Redis;

/// <summary>One real redis-server (in a temporary directory) shared by the tests of a class, plus a multiplexer for it.</summary>
public sealed class LocalRedisFixture : IAsyncLifetime
{
    private readonly TemporaryDirectory _directory = new();

    public LocalRedisFixture() => Server = new LocalRedis(new LocalRedisOptions { DataDirectory = _directory.Path });

    public LocalRedis Server { get; }

    public IConnectionMultiplexer Client { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        TestKindGuard.RefuseInUnitTest("it starts a redis-server (LocalRedisFixture)");
        await Server.StartAsync(TestContext.Current.CancellationToken);
        Client = await ConnectionMultiplexer.ConnectAsync(Server.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        _directory.Dispose();
    }

    /// <summary>A key prefix no other test uses, so tests sharing the server never see each other's data.</summary>
    public static string UniqueKey(string name) => $"test:{Guid.NewGuid():N}:{name}";
}
