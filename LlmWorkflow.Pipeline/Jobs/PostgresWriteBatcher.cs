using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// Group commit for the worker's hot-path writes. Concurrent jobs hand their statements here; a single writer sends
/// whatever is waiting (up to <see cref="MaxBatch"/>) as one <see cref="NpgsqlBatch"/> in one transaction — one round
/// trip and one commit for many jobs — and completes each caller with its own rows-affected count once committed, so
/// durability is unchanged. If a batch fails, its statements are retried one by one so that one bad statement
/// fails only its own caller.
/// </summary>
public sealed partial class PostgresWriteBatcher(NpgsqlDataSource dataSource, ILogger<PostgresWriteBatcher> logger) : BackgroundService
{
    public const int MaxBatch = 256;
    private readonly Channel<PendingWrite> _pending = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Queues one statement; completes with its rows-affected count after the batch commits.</summary>
    public Task<int> ExecuteAsync(string sql, IReadOnlyList<NpgsqlParameter> parameters, CancellationToken cancellationToken)
    {
        var write = new PendingWrite(sql, parameters, new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_pending.Writer.TryWrite(write))
        {
            throw new InvalidOperationException("The Postgres write batcher has stopped.");
        }

        return write.Completion.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Runs until StopAsync completes the channel and every queued write is flushed (not on the stopping token:
        // jobs still draining must be able to record their results).
        var batch = new List<PendingWrite>(MaxBatch);
        while (await _pending.Reader.WaitToReadAsync(CancellationToken.None))
        {
            await DrainAsync(batch);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Registered before the job consumer, so it stops after the consumer has drained its jobs.
        _pending.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    private async Task DrainAsync(List<PendingWrite> batch)
    {
        while (true)
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _pending.Reader.TryRead(out var write))
            {
                batch.Add(write);
            }

            if (batch.Count == 0)
            {
                return;
            }

            try
            {
                await ExecuteBatchAsync(batch);
            }
            catch (Exception ex) when (batch.Count > 1 && ex is NpgsqlException)
            {
                LogBatchFailed(ex, batch.Count);
                foreach (var write in batch)
                {
                    await ExecuteOneAsync(write);
                }
            }
            catch (Exception ex)
            {
                foreach (var write in batch)
                {
                    write.Completion.TrySetException(ex);
                }
            }
        }
    }

    private async Task ExecuteBatchAsync(List<PendingWrite> writes)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var write in writes)
        {
            var command = new NpgsqlBatchCommand(write.Sql);
            foreach (var parameter in write.Parameters)
            {
                command.Parameters.Add(parameter.Clone());
            }

            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
        for (var i = 0; i < writes.Count; i++)
        {
            writes[i].Completion.TrySetResult(batch.BatchCommands[i].RecordsAffected);
        }
    }

    private async Task ExecuteOneAsync(PendingWrite write)
    {
        try
        {
            await using var command = dataSource.CreateCommand(write.Sql);
            foreach (var parameter in write.Parameters)
            {
                command.Parameters.Add(parameter.Clone());
            }

            write.Completion.TrySetResult(await command.ExecuteNonQueryAsync());
        }
        catch (Exception ex)
        {
            write.Completion.TrySetException(ex);
        }
    }

    private sealed record PendingWrite(string Sql, IReadOnlyList<NpgsqlParameter> Parameters, TaskCompletionSource<int> Completion);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} writes failed; retrying them one by one")]
    private partial void LogBatchFailed(Exception ex, int count);
}
