using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LlmWorkflow.Tests.LocalServers;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using LlmWorkflow.Storage.Persistence;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>
/// Services started before PostgreSQL (as containers often are) wait for it instead of crashing: while nothing listens,
/// and while a server listens but still refuses sessions because it is starting up (<c>57P03</c>).
/// </summary>
[IntegrationTest]
public sealed class MigratorStartupTests
{
    [Fact]
    public async Task MigrationWaitsForPostgresToAcceptConnections()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("llmwf-late-pg-").FullName;
        await using var postgres = new LocalPostgres(new LocalPostgresOptions { DataDirectory = folder, TradeDurabilityForSpeed = true });
        await using var db = MigrationContext.Create(postgres.ConnectionString);

        var migration = new DatabaseMigrator(db, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(ct);
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        Assert.False(migration.IsCompleted, "the migrator should still be waiting for PostgreSQL: " + migration.Exception);

        await MigratesOncePostgresStartsAsync(postgres, db, migration, folder, ct);
    }

    [Fact]
    public async Task MigrationWaitsWhilePostgresIsStillStartingUp()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("llmwf-starting-pg-").FullName;
        var port = PortAllocator.GetFreePort();
        await using var postgres = new LocalPostgres(new LocalPostgresOptions { DataDirectory = folder, Port = port, TradeDurabilityForSpeed = true });
        await using var db = MigrationContext.Create(postgres.ConnectionString);

        Task migration;
        using (var starting = new StartingUpServer(port))
        {
            migration = new DatabaseMigrator(db, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(ct);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (starting.Refused < 2 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, ct);
            }

            Assert.True(starting.Refused >= 2, $"the migrator should have been refused and tried again; refused {starting.Refused} time(s)");
            Assert.False(migration.IsCompleted, "the migrator should still be waiting for PostgreSQL: " + migration.Exception);
        }

        await MigratesOncePostgresStartsAsync(postgres, db, migration, folder, ct);
    }

    /// <summary>Starts the real server; the waiting migration then completes and leaves nothing pending.</summary>
    private static async Task MigratesOncePostgresStartsAsync(LocalPostgres postgres, LlmWorkflowDbContext db, Task migration, string folder, CancellationToken ct)
    {
        await postgres.StartAsync(ct);
        await migration.WaitAsync(TimeSpan.FromSeconds(60), ct);

        Assert.Empty(await db.Database.GetPendingMigrationsAsync(ct));
        await postgres.StopAsync(cancellationToken: ct);
        Directory.Delete(folder, recursive: true);
    }

    /// <summary>
    /// What a PostgreSQL replaying its log answers on its port: no to encryption, then to the startup message the
    /// FATAL <c>57P03</c> "the database system is starting up", and it closes the connection.
    /// </summary>
    private sealed class StartingUpServer : IDisposable
    {
        private const int SslRequest = 80877103;
        private const int GssEncRequest = 80877104;

        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private int _refused;

        public StartingUpServer(int port)
        {
            _listener = new TcpListener(IPAddress.Loopback, port);
            _listener.Start();
            _ = AcceptAsync();
        }

        public int Refused => Volatile.Read(ref _refused);

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    await using var stream = client.GetStream();
                    while (await ReadRequestCodeAsync(stream) is SslRequest or GssEncRequest)
                    {
                        await stream.WriteAsync("N"u8.ToArray(), _stop.Token);
                    }

                    await stream.WriteAsync(StartingUpError(), _stop.Token);
                    Interlocked.Increment(ref _refused);
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (IOException)
                {
                    // The client hung up first: wait for its next attempt.
                }
            }
        }

        /// <summary>Reads one length-prefixed message of the start of a session and returns its first four bytes.</summary>
        private async Task<int> ReadRequestCodeAsync(NetworkStream stream)
        {
            var length = new byte[4];
            await stream.ReadExactlyAsync(length, _stop.Token);
            var body = new byte[BinaryPrimitives.ReadInt32BigEndian(length) - 4];
            await stream.ReadExactlyAsync(body, _stop.Token);
            return BinaryPrimitives.ReadInt32BigEndian(body);
        }

        private static byte[] StartingUpError()
        {
            var fields = Encoding.ASCII.GetBytes("SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0");
            var message = new byte[1 + 4 + fields.Length];
            message[0] = (byte)'E';
            BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(1), 4 + fields.Length);
            fields.CopyTo(message, 5);
            return message;
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }
}
