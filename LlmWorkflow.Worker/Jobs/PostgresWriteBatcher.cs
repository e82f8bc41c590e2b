using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Group commit for the worker's hot-path writes. Concurrent jobs hand their statements here; the writer sends
/// whatever is waiting (up to <see cref="MaxBatch"/>) as one <see cref="NpgsqlBatch"/> in one transaction — one round
/// trip and one commit for many jobs — and completes each caller with its own rows-affected count once committed, so
/// durability is unchanged. If a batch fails, its callers' writes are retried one by one so that one bad statement
/// fails only its own caller. A caller may hand over several statements as one write (a step's checkpoint and the
/// usage rows of its LLM calls): they always commit or fail together. Rows of a <see cref="MultiRowStatement"/> (the
/// finishes, step rows and usage rows of many jobs) are coalesced: one statement per kind per batch, not one per job.
/// </summary>
/// <remarks>
/// One batch is in flight at a time, except when a whole second batch is already waiting (hundreds of jobs finishing
/// at once): then up to <see cref="MaxBatchesInFlight"/> run side by side, so PostgreSQL works on both cores instead of
/// one while the jobs wait. A second batch holds only writes of jobs with no write in flight, so a job's writes still
/// commit one after another in the order given, and two batches never lock the same job's rows. A write that names no
/// job (<see cref="ExecuteAsync(IReadOnlyList{WriteStatement}, CancellationToken)"/>) runs in no batch beside another.
/// </remarks>
public sealed partial class PostgresWriteBatcher(NpgsqlDataSource dataSource, ILogger<PostgresWriteBatcher> logger) : BackgroundService
{
    public const int MaxBatch = 256;

    /// <summary>Batches in flight at once; past the first, only full ones (see the remarks).</summary>
    public const int MaxBatchesInFlight = 2;

    private readonly Channel<PendingWrite> _pending = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Queues statements of one job that commit together; completes with each one's rows-affected count.</summary>
    public Task<int[]> ExecuteAsync(Guid job, IReadOnlyList<WriteStatement> statements, CancellationToken cancellationToken) =>
        Enqueue(job, statements, cancellationToken);

    /// <summary>
    /// Queues statements that commit together, of any number of jobs; completes with each one's rows-affected count.
    /// Such a write never shares the database with another batch in flight.
    /// </summary>
    public Task<int[]> ExecuteAsync(IReadOnlyList<WriteStatement> statements, CancellationToken cancellationToken) =>
        Enqueue(null, statements, cancellationToken);

    private Task<int[]> Enqueue(Guid? job, IReadOnlyList<WriteStatement> statements, CancellationToken cancellationToken)
    {
        var write = new PendingWrite(job, statements, new TaskCompletionSource<int[]>(TaskCreationOptions.RunContinuationsAsynchronously));
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
        var waiting = new List<PendingWrite>();
        var inFlight = new List<InFlightBatch>(MaxBatchesInFlight);
        Task<bool>? arrival = null;
        var open = true;
        while (open || waiting.Count > 0 || inFlight.Count > 0)
        {
            while (_pending.Reader.TryRead(out var write))
            {
                waiting.Add(write);
            }

            inFlight.RemoveAll(batch => batch.Sent.IsCompleted);
            if (TakeBatch(waiting, inFlight) is { } next)
            {
                inFlight.Add(new InFlightBatch(next.Jobs, SendAsync(next.Writes)));
                continue;
            }

            // Nothing to send now: wait for a write to arrive or a batch to commit.
            var wakeUps = inFlight.ConvertAll(batch => batch.Sent);
            if (open)
            {
                arrival ??= _pending.Reader.WaitToReadAsync(CancellationToken.None).AsTask();
                wakeUps.Add(arrival);
            }

            await Task.WhenAny(wakeUps);
            if (arrival is { IsCompleted: true })
            {
                open = await arrival;
                arrival = null;
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Registered before the job consumer, so it stops after the consumer has drained its jobs.
        _pending.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    /// <summary>
    /// The next batch to send, taken out of <paramref name="waiting"/>, or null. With nothing in flight: the writes in
    /// arrival order, up to <see cref="MaxBatch"/> statements. Beside batches in flight: a full batch of writes whose
    /// jobs have none in flight, in arrival order, stopping at a write that names no job.
    /// </summary>
    private static (List<PendingWrite> Writes, HashSet<Guid>? Jobs)? TakeBatch(List<PendingWrite> waiting, List<InFlightBatch> inFlight)
    {
        if (waiting.Count == 0 || inFlight.Count >= MaxBatchesInFlight || inFlight.Exists(batch => batch.Jobs is null))
        {
            return null;
        }

        var taken = new List<PendingWrite>();
        HashSet<Guid>? jobs = [];
        var statements = 0;
        var index = 0;
        for (; index < waiting.Count && statements < MaxBatch; index++)
        {
            var write = waiting[index];
            if (inFlight.Count > 0)
            {
                if (write.Job is not { } job)
                {
                    break; // nothing passes a write that names no job
                }

                if (inFlight.Exists(batch => batch.Jobs!.Contains(job)))
                {
                    continue; // it waits for its job's write in flight; so do the job's later writes
                }
            }

            taken.Add(write);
            statements += write.Statements.Count;
            if (write.Job is { } own)
            {
                jobs?.Add(own);
            }
            else
            {
                jobs = null;
            }
        }

        if (taken.Count == 0 || (inFlight.Count > 0 && statements < MaxBatch))
        {
            return null;
        }

        if (taken.Count == index)
        {
            waiting.RemoveRange(0, index);
        }
        else
        {
            var sent = new HashSet<PendingWrite>(taken, ReferenceEqualityComparer.Instance);
            waiting.RemoveAll(sent.Contains);
        }

        return (taken, jobs);
    }

    /// <summary>Sends one batch; never throws (each write's task carries its own outcome).</summary>
    private async Task SendAsync(List<PendingWrite> batch)
    {
        try
        {
            await ExecuteBatchAsync(batch);
        }
        catch (Exception ex)
        {
            await BatchFailedAsync(batch, ex);
        }
    }

    private async Task ExecuteBatchAsync(List<PendingWrite> writes)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        // No explicit transaction: a batch is sent with one Sync, so PostgreSQL runs it as one implicit transaction
        // (any error rolls back every command) and commits it before it answers; BEGIN and a COMMIT round trip are saved.
        await using var batch = new NpgsqlBatch(connection);
        var commands = AddCommands(batch, writes);

        // Multi-row statements return the ords of the rows they wrote; plain statements return no rows.
        var written = new bool[commands.Count];
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            do
            {
                while (await reader.ReadAsync())
                {
                    written[reader.Field<int>("ord")] = true;
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

    /// <summary>
    /// Adds the writes' statements to <paramref name="batch"/>; returns the command of each statement, by its position
    /// (its ord). Plain statements become one command each; the rows of one multi-row kind become one command, placed
    /// where the kind first appears. A job's statements run in the order given, within a write and across its writes
    /// in the batch (a step row before the finish that follows it, an attempt's trace before the finish, whose guards
    /// would refuse them afterwards): a row joins its kind's command only if that command runs no earlier than the
    /// job's previous statement.
    /// </summary>
    private static List<NpgsqlBatchCommand> AddCommands(NpgsqlBatch batch, List<PendingWrite> writes)
    {
        var commands = new List<NpgsqlBatchCommand>();
        var groups = new List<RowGroup>();
        var open = new Dictionary<MultiRowStatement, List<RowGroup>>();
        var lastOfJob = new Dictionary<Guid, int>();
        foreach (var write in writes)
        {
            var previous = write.Job is { } job ? lastOfJob.GetValueOrDefault(job, -1) : -1;
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

                    group.Add(statement, commands.Count);
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
            }

            if (write.Job is { } written)
            {
                lastOfJob[written] = previous;
            }
        }

        foreach (var group in groups)
        {
            foreach (var parameter in group.Kind.Parameters(group.Rows, group.Ords))
            {
                group.Command.Parameters.Add(parameter);
            }
        }

        return commands;
    }

    /// <param name="Job">The job the write belongs to; null for a write of several jobs, which runs beside no other batch.</param>
    private sealed record PendingWrite(Guid? Job, IReadOnlyList<WriteStatement> Statements, TaskCompletionSource<int[]> Completion);

    /// <param name="Jobs">The jobs with a write in the batch; null when a write names no job (then it could be any).</param>
    private sealed record InFlightBatch(HashSet<Guid>? Jobs, Task Sent);

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
}
