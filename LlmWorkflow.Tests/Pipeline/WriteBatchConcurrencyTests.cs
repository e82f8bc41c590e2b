using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// When the worker's write batcher sends a second batch beside one in flight: only a full one, only of jobs with no
/// write in flight, never past a write that names no job. A batch is held in flight by an advisory lock the test
/// keeps, so what may and may not pass it is decided by the rules, not by timing.
/// </summary>
[IntegrationTest]
public sealed class WriteBatchConcurrencyTests(TestServers servers) : IAsyncLifetime
{
    private const long HeldLock = 4242;

    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync()
    {
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(WriteBatchConcurrencyTests), TestContext.Current.CancellationToken);
        await using var create = _db.Database.CreateCommand("CREATE TABLE write_probe (job uuid NOT NULL, n int NOT NULL)");
        await create.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    private PostgresWriteBatcher Writes => _db.Get<PostgresWriteBatcher>();

    [Fact]
    public async Task AFullBatchWaitingBesideAHeldOneIsSentAtOnceWhileAJobsNextWriteWaitsForItsFirst()
    {
        var ct = TestContext.Current.CancellationToken;
        var held = Guid.NewGuid();
        var (holder, first) = await HoldABatchAsync(held, ct);
        await using var _ = holder;

        // The held job's second write only counts if its first one committed before it ran.
        var second = Writes.ExecuteAsync(held, [ProbeAfter(held, 2, 1)], CancellationToken.None);
        var others = Enumerable.Range(0, PostgresWriteBatcher.MaxBatch)
            .Select(n => Writes.ExecuteAsync(Guid.NewGuid(), [Probe(Guid.NewGuid(), n)], CancellationToken.None)).ToArray();

        // A full batch of other jobs commits although the first batch cannot.
        var otherCounts = await Task.WhenAll(others).WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.All(otherCounts, counts => Assert.Equal([1], counts));
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted);

        await holder.ReleaseAsync();
        Assert.Equal(1, (await first.WaitAsync(TimeSpan.FromSeconds(30), ct))[^1]);
        var secondCounts = await second.WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.Equal([1], secondCounts);
    }

    [Fact]
    public async Task LessThanAFullBatchOrAWriteOfNoJobWaitsForTheBatchInFlight()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holder, first) = await HoldABatchAsync(Guid.NewGuid(), ct);
        await using var _ = holder;

        // A few writes of other jobs: not worth a second transaction, they join the next batch.
        var few = Enumerable.Range(0, 10)
            .Select(n => Writes.ExecuteAsync(Guid.NewGuid(), [Probe(Guid.NewGuid(), n)], CancellationToken.None)).ToArray();
        // A write of several jobs, then a full batch behind it: nothing passes a write that names no job.
        var unnamed = Writes.ExecuteAsync([Probe(Guid.NewGuid(), 1), Probe(Guid.NewGuid(), 2)], CancellationToken.None);
        var behind = Enumerable.Range(0, PostgresWriteBatcher.MaxBatch)
            .Select(n => Writes.ExecuteAsync(Guid.NewGuid(), [Probe(Guid.NewGuid(), n)], CancellationToken.None)).ToArray();

        await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
        Assert.False(first.IsCompleted);
        Assert.DoesNotContain(few, write => write.IsCompleted);
        Assert.False(unnamed.IsCompleted);
        Assert.DoesNotContain(behind, write => write.IsCompleted);
        Assert.Equal(0, await CountAsync(ct));

        await holder.ReleaseAsync();
        Assert.Equal(1, (await first.WaitAsync(TimeSpan.FromSeconds(30), ct))[^1]);
        await Task.WhenAll([.. few, unnamed, .. behind]).WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.Equal(1 + few.Length + 2 + behind.Length, await CountAsync(ct));
    }

    /// <summary>The advisory lock the held batch waits on, taken in a transaction: releasing it lets the batch go on.</summary>
    private sealed class LockHolder : IAsyncDisposable
    {
        private NpgsqlConnection _connection = null!;
        private NpgsqlTransaction? _transaction;

        public static async Task<LockHolder> TakeAsync(NpgsqlDataSource database, CancellationToken ct)
        {
            var holder = new LockHolder { _connection = await database.OpenConnectionAsync(ct) };
            holder._transaction = await holder._connection.BeginTransactionAsync(ct);
            await using var command = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({HeldLock})", holder._connection, holder._transaction);
            await command.ExecuteNonQueryAsync(ct);
            return holder;
        }

        public async Task ReleaseAsync()
        {
            if (_transaction is { } transaction)
            {
                _transaction = null;
                await transaction.CommitAsync();
                await transaction.DisposeAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await ReleaseAsync();
            await _connection.DisposeAsync();
        }
    }

    /// <summary>
    /// Sends a write of <paramref name="job"/> (a probe row after the advisory lock) and returns once its batch waits on
    /// the lock the returned holder keeps: that batch stays in flight until the holder releases it.
    /// </summary>
    private async Task<(LockHolder Holder, Task<int[]> Write)> HoldABatchAsync(Guid job, CancellationToken ct)
    {
        var holder = await LockHolder.TakeAsync(_db.Database, ct);
        var write = Writes.ExecuteAsync(job, [WaitForLock(), Probe(job, 1)], CancellationToken.None);
        while (await ScalarAsync($"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {HeldLock} AND NOT granted", ct) == 0)
        {
            await Task.Delay(20, ct);
        }

        return (holder, write);
    }

    private Task<long> CountAsync(CancellationToken ct) => ScalarAsync("SELECT count(*) FROM write_probe", ct);

    private async Task<long> ScalarAsync(string sql, CancellationToken ct)
    {
        await using var command = _db.Database.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    private static WriteStatement WaitForLock() =>
        new($"DO $$ BEGIN PERFORM pg_advisory_xact_lock({HeldLock}); END $$", []);

    private static WriteStatement Probe(Guid job, int n) =>
        new("INSERT INTO write_probe VALUES ($1, $2)", [new NpgsqlParameter { Value = job }, new NpgsqlParameter { Value = n }]);

    private static WriteStatement ProbeAfter(Guid job, int n, int after) =>
        new("INSERT INTO write_probe SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM write_probe WHERE job = $1 AND n = $3)",
            [new NpgsqlParameter { Value = job }, new NpgsqlParameter { Value = n }, new NpgsqlParameter { Value = after }]);
}
