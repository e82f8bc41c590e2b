using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Hosting;

namespace LlmWorkflow.Tests.Redis;

/// <summary>A server started with <c>--requirepass</c>, shared by the class.</summary>
public sealed class PasswordRedisFixture : IAsyncLifetime
{
    public const string Password = "s3cret,with=odd chars";

    private readonly TemporaryDirectory _directory = new();

    public PasswordRedisFixture() =>
        Server = new LocalRedis(new LocalRedisOptions { DataDirectory = _directory.Path, Password = Password });

    public LocalRedis Server { get; }

    public async ValueTask InitializeAsync() => await Server.StartAsync(TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _directory.Dispose();
    }
}
