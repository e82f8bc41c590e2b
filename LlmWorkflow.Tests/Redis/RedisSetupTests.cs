using LlmWorkflow.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Redis;

/// <summary>
/// The host's Redis client as the API and the Worker register it (<see cref="RedisSetup.AddLlmWorkflowRedis"/>), against
/// real servers: a URL with a password and a database (REDIS_URL's form), managed Redis's form (password over TLS),
/// and the health check that readiness reports as <c>redis</c>.
/// </summary>
[IntegrationTest]
public sealed class RedisSetupTests(PasswordRedisFixture password, TlsRedisFixture tls) : IClassFixture<PasswordRedisFixture>, IClassFixture<TlsRedisFixture>
{
    [Fact]
    public async Task AUrlWithPasswordAndDatabaseConnectsAndIsHealthy()
    {
        using var host = Build($"redis://:{Uri.EscapeDataString(PasswordRedisFixture.Password)}@127.0.0.1:{password.Server.Port}/2");
        var db = host.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();

        Assert.Equal(2, db.Database);
        Assert.True(await db.StringSetAsync("setup:url", "yes"));
        Assert.Equal("yes", (string?)await db.StringGetAsync("setup:url"));
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Tags.Contains("ready"), TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Healthy, report.Entries["redis"].Status);
    }

    [Fact]
    public async Task AWrongPasswordIsUnhealthyAndNamesNoSecret()
    {
        using var host = Build($"127.0.0.1:{password.Server.Port},password=not-it,connectTimeout=1000");

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Tags.Contains("ready"), TestContext.Current.CancellationToken);

        Assert.Equal(HealthStatus.Unhealthy, report.Entries["redis"].Status);
        Assert.DoesNotContain("not-it", report.Entries["redis"].Exception?.ToString() ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManagedRedisFormAuthenticatesOverTls()
    {
        // The form infra/ stores for Azure Managed Redis: host:port,password=<access key>,ssl=true,abortConnect=false.
        const string key = "access-key-with=and/+";
        var admin = ConfigurationOptions.Parse($"127.0.0.1:{tls.Port},ssl=true,sslHost=redis.test,allowAdmin=true");
        admin.CertificateValidation += tls.Validate;
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(admin))
        {
            await connection.GetDatabase().ExecuteAsync("CONFIG", "SET", "requirepass", key);
        }

        using var host = Build($"127.0.0.1:{tls.Port},password={key},ssl=true,abortConnect=false,sslHost=redis.test",
            options => options.CertificateValidation += tls.Validate);
        var db = host.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        Assert.True(await db.StringSetAsync("setup:tls", "authenticated"));
        Assert.Equal("authenticated", (string?)await db.StringGetAsync("setup:tls"));
    }

    private static IHost Build(string connectionString, Action<ConfigurationOptions>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = connectionString });
        builder.AddLlmWorkflowRedis(configure);
        return builder.Build();
    }
}
