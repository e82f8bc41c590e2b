using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// Managed PostgreSQL (Azure flexible server with require_secure_transport) refuses unencrypted connections. The
/// connection string infra/ stores (<c>SSL Mode=Require</c>) reaches Npgsql unchanged: the services migrate and
/// query over TLS against a real server that accepts TLS only.
/// </summary>
[IntegrationTest]
public sealed class PostgresSslTests
{
    [Fact]
    public async Task ServicesConnectToATlsOnlyServerWithSslModeRequire()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = Directory.CreateTempSubdirectory("llmwf-pg-ssl-");
        var data = Path.Combine(root.FullName, "data");
        await using var postgres = new LocalPostgres(new LocalPostgresOptions { DataDirectory = data, TradeDurabilityForSpeed = true });
        try
        {
            await postgres.StartAsync(ct);
            var database = await postgres.CreateDatabaseIfMissingAsync("llmwf_ssl", ct);
            await postgres.StopAsync(cancellationToken: ct);
            await EnableTlsOnlyAsync(data, ct);
            await postgres.StartAsync(ct);

            // Without TLS the server turns the connection away, as a managed server does.
            await using (var plain = new NpgsqlConnection(database + ";SSL Mode=Disable"))
            {
                var refused = await Assert.ThrowsAsync<PostgresException>(() => plain.OpenAsync(ct));
                Assert.Equal("28000", refused.SqlState);
            }

            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:postgres"] = database + ";SSL Mode=Require",
                // Never contacted by this test.
                ["ConnectionStrings:redis"] = "127.0.0.1:1",
            }).Build();
            var services = new ServiceCollection().AddLogging();
            services.AddLlmWorkflowCore(configuration);
            await using var provider = services.BuildServiceProvider();
            await using (var scope = provider.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<DatabaseMigrator>().MigrateAsync(ct);
            }

            await using var connection = await provider.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
            await using var command = new NpgsqlCommand(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", connection);
            Assert.True((bool)(await command.ExecuteScalarAsync(ct))!);
            await using var jobs = new NpgsqlCommand("SELECT count(*) FROM llm_workflow_jobs", connection);
            Assert.Equal(0L, (long)(await jobs.ExecuteScalarAsync(ct))!);
        }
        finally
        {
            await postgres.StopAsync(cancellationToken: CancellationToken.None);
            root.Delete(recursive: true);
        }
    }

    /// <summary>A self-signed server certificate, ssl=on, and pg_hba rules that admit TCP clients over TLS only.</summary>
    private static async Task EnableTlsOnlyAsync(string data, CancellationToken ct)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        await File.WriteAllTextAsync(Path.Combine(data, "server.crt"), certificate.ExportCertificatePem(), ct);
        var keyFile = Path.Combine(data, "server.key");
        await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem(), ct);
        // PostgreSQL refuses a private key others can read; StartAsync hands the files to the server's account.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        await File.AppendAllTextAsync(Path.Combine(data, "postgresql.conf"), "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n", ct);
        await File.WriteAllTextAsync(Path.Combine(data, "pg_hba.conf"), """
            local     all  all                trust
            hostssl   all  all  127.0.0.1/32  trust
            hostnossl all  all  127.0.0.1/32  reject
            """ + "\n", ct);
    }
}
