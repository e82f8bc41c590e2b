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
/// usage rows of its LLM calls): they always commit or fail together. Rows of a <see cref="MultiRowStatement"/> (the
/// finishes, step rows and usage rows of many jobs) are coalesced: one statement per kind per batch, not one per job.
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
        // No explicit transaction: a batch is sent with one Sync, so PostgreSQL runs it as one implicit transaction
        // (any error rolls back every command) and commits it before it answers; BEGIN and a COMMIT round trip are saved.
        await using var batch = new NpgsqlBatch(connection);

        // Every statement of the batch gets a position (its ord). Plain statements become one command each; the rows
        // of one multi-row kind become one command, placed where the kind first appears. A write's statements run in
        // the order given (a step row before the finish that follows it, whose guard would refuse it afterwards): a row
        // joins its kind's command only if that command runs no earlier than the write's previous statement.
        var commands = new List<NpgsqlBatchCommand>();
        var groups = new List<RowGroup>();
        var open = new Dictionary<MultiRowStatement, List<RowGroup>>();
        var ord = 0;
        foreach (var write in writes)
        {
            var previous = -1;
            foreach (var statement in write.Statements)
            {
                if (statement.Rows is { } kind)
                {
                    if (!open.TryGetValue(kind, out var ofKind))
                    {
                        open[kind] = ofKind = [];
                    }

                    var group = ofKind.FirstOrDefault(g => g.Position >= previous && (statement.Key is null || !g.Keys.Contains(statement.Key)));
                    if (group is null)
                    {
                        group = new RowGroup(kind, new NpgsqlBatchCommand(kind.Sql), batch.BatchCommands.Count);
                        ofKind.Add(group);
                        groups.Add(group);
                        batch.BatchCommands.Add(group.Command);
                    }

                    group.Add(statement, ord);
                    commands.Add(group.Command);
                    previous = group.Position;
                }
                else
                {
                    var command = new NpgsqlBatchCommand(statement.Sql);
                    foreach (var parameter in statement.Parameters)
                    {
                        command.Parameters.Add(parameter.Clone());
                    }

                    previous = batch.BatchCommands.Count;
                    batch.BatchCommands.Add(command);
                    commands.Add(command);
                }

                ord++;
            }
        }

        foreach (var group in groups)
        {
            foreach (var parameter in group.Kind.Parameters(group.Rows, group.Ords))
            {
                group.Command.Parameters.Add(parameter);
            }
        }

        // Multi-row statements return the ords of the rows they wrote; plain statements return no rows.
        var written = new bool[ord];
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            do
            {
                while (await reader.ReadAsync())
                {
                    written[reader.GetInt32(0)] = true;
                }
            }
            while (await reader.NextResultAsync());
        }

        var next = 0;
        foreach (var write in writes)
        {
            var counts = new int[write.Statements.Count];
            for (var i = 0; i < counts.Length; i++, next++)
            {
                counts[i] = write.Statements[i].Rows is null ? commands[next].RecordsAffected : written[next] ? 1 : 0;
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

    /// <summary>The rows of one multi-row statement in a batch; <see cref="Keys"/> keeps a key to one row per statement.</summary>
    /// <param name="position">The command's place in the batch (commands run in this order).</param>
    private sealed class RowGroup(MultiRowStatement kind, NpgsqlBatchCommand command, int position)
    {
        public MultiRowStatement Kind { get; } = kind;

        public NpgsqlBatchCommand Command { get; } = command;

        public int Position { get; } = position;

        public List<WriteStatement> Rows { get; } = [];

        public List<int> Ords { get; } = [];

        public HashSet<object> Keys { get; } = [];

        public void Add(WriteStatement row, int ord)
        {
            Rows.Add(row);
            Ords.Add(ord);
            if (row.Key is { } key)
            {
                Keys.Add(key);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} writes failed; retrying them one by one")]
    private partial void LogBatchFailed(Exception ex, int count);
}

/// <summary>
/// One SQL statement with its positional parameters (it must return no rows), or one row of a
/// <see cref="MultiRowStatement"/> (<see cref="Rows"/>, with the row's <see cref="Values"/>; made by
/// <see cref="MultiRowStatement.Row"/>), which the batcher sends together with the other rows of its kind.
/// </summary>
public sealed record WriteStatement(
    string Sql, IReadOnlyList<NpgsqlParameter> Parameters, MultiRowStatement? Rows = null, object? Key = null, object?[]? Values = null);
