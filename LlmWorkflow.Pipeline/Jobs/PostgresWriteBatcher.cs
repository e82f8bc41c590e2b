using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// Group commit for the worker's hot-path writes. Concurrent jobs hand their statements here; a single writer sends
/// whatever is waiting (up to <see cref="MaxBatch"/>) as one <see cref="NpgsqlBatch"/> in one transaction — one round
/// trip and one commit for many jobs — and completes each caller with its own rows-affected count once committed, so
/// durability is unchanged. If a batch fails, its callers' writes are retried one by one so that one bad statement
/// fails only its own caller. A caller may hand over several statements as one write (a step's checkpoint and the
/// usage rows of its LLM calls): they always commit or fail together.
/// </summary>
public sealed partial class PostgresWriteBatcher(NpgsqlDataSource dataSource, ILogger<PostgresWriteBatcher> logger) : BackgroundService
{
    public const int MaxBatch = 256;
    private readonly Channel<PendingWrite> _pending = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Queues one statement; completes with its rows-affected count after the batch commits.</summary>
    public async Task<int> ExecuteAsync(string sql, IReadOnlyList<NpgsqlParameter> parameters, CancellationToken cancellationToken) =>
        (await ExecuteAsync([new WriteStatement(sql, parameters)], cancellationToken))[0];

    /// <summary>Queues statements that commit together; completes with each one's rows-affected count.</summary>
    public Task<int[]> ExecuteAsync(IReadOnlyList<WriteStatement> statements, CancellationToken cancellationToken)
    {
        var write = new PendingWrite(statements, new TaskCompletionSource<int[]>(TaskCreationOptions.RunContinuationsAsynchronously));
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
            var statements = 0;
            while (statements < MaxBatch && _pending.Reader.TryRead(out var write))
            {
                batch.Add(write);
                statements += write.Statements.Count;
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
        foreach (var statement in writes.SelectMany(w => w.Statements))
        {
            var command = new NpgsqlBatchCommand(statement.Sql);
            foreach (var parameter in statement.Parameters)
            {
                command.Parameters.Add(parameter.Clone());
            }

            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
        var next = 0;
        foreach (var write in writes)
        {
            var counts = new int[write.Statements.Count];
            for (var i = 0; i < counts.Length; i++)
            {
                counts[i] = batch.BatchCommands[next++].RecordsAffected;
            }

            write.Completion.TrySetResult(counts);
        }
    }

    private async Task ExecuteOneAsync(PendingWrite write)
    {
        try
        {
            await ExecuteBatchAsync([write]);
        }
        catch (Exception ex)
        {
            write.Completion.TrySetException(ex);
        }
    }

    private sealed record PendingWrite(IReadOnlyList<WriteStatement> Statements, TaskCompletionSource<int[]> Completion);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} writes failed; retrying them one by one")]
    private partial void LogBatchFailed(Exception ex, int count);
}

/// <summary>One SQL statement with its positional parameters.</summary>
public sealed record WriteStatement(string Sql, IReadOnlyList<NpgsqlParameter> Parameters);
