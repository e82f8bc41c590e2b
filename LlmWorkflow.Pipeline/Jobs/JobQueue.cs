using Microsoft.Extensions.Options;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// Dispatch over Redis streams: one stream per <see cref="PriorityBand"/>, one consumer group shared by all workers.
/// Entries carry only the job id and trace context; Postgres decides whether the job still needs running.
/// </summary>
public sealed class JobQueue(IRedisClient redis, IOptions<QueueOptions> options)
{
    private const string JobIdField = "job_id";
    private const string PriorityField = "priority";
    private const string TraceParentField = "traceparent";
    private const string TraceStateField = "tracestate";

    private readonly QueueOptions _options = options.Value;
    private long _reads;

    public string StreamKey(PriorityBand band) => band.StreamKey(_options.KeyPrefix);

    public IReadOnlyList<string> StreamKeys => PriorityBands.ReadOrder.Select(StreamKey).ToArray();

    public string ConsumerGroup => _options.ConsumerGroup;

    /// <summary>Where entries delivered too many times go, with the reason; their jobs are failed.</summary>
    public string DeadLetterKey => $"{_options.KeyPrefix}:jobs:dead";

    /// <summary>Creates the consumer group on every stream (idempotent).</summary>
    public async Task EnsureConsumerGroupsAsync(CancellationToken cancellationToken)
    {
        foreach (var key in StreamKeys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await redis.StreamCreateGroupAsync(key, _options.ConsumerGroup, "0", createStream: true);
        }
    }

    public Task<string> EnqueueAsync(JobDispatch dispatch, CancellationToken cancellationToken = default) =>
        redis.StreamAddAsync(StreamKey(PriorityBands.ForPriority(dispatch.Priority)), Fields(dispatch), _options.MaxStreamLength);

    /// <summary>
    /// Enqueues many jobs in one round trip, as one MULTI/EXEC transaction: a worker blocked in its read then wakes
    /// with the whole batch (one claim, one ack for all of it) instead of with the first entry alone, which a plain
    /// pipeline gives it (Redis serves blocked readers after each command outside a transaction).
    /// </summary>
    public Task EnqueueManyAsync(IReadOnlyList<JobDispatch> dispatches, CancellationToken cancellationToken = default) =>
        dispatches.Count == 0
            ? Task.CompletedTask
            : AddInTransactionAsync(dispatches, d => StreamKey(PriorityBands.ForPriority(d.Priority)), makeStream: true, cancellationToken);

    private async Task AddInTransactionAsync(IReadOnlyList<JobDispatch> dispatches, Func<JobDispatch, string> streamKey, bool makeStream,
        CancellationToken cancellationToken)
    {
        var commands = dispatches.Select(d => StreamAddCommand(d, streamKey(d), makeStream)).ToArray();
        var replies = await redis.TransactionAsync(commands, cancellationToken);
        var failed = replies.FirstOrDefault(r => r.IsError);
        if (failed.IsError)
        {
            throw new RedisServerException(failed.AsString() ?? "XADD failed");
        }
    }

    /// <summary>
    /// Reads up to <paramref name="count"/> new entries for this consumer, highest band first. Only when every band
    /// is empty does it block (on all bands at once) for up to <see cref="QueueOptions.BlockTimeout"/>.
    /// </summary>
    public async Task<IReadOnlyList<DispatchedJob>> ReadAsync(string consumer, int count, CancellationToken cancellationToken)
    {
        var order = NextReadOrder();
        var result = new List<DispatchedJob>(count);
        foreach (var band in order)
        {
            var remaining = count - result.Count;
            if (remaining <= 0)
            {
                break;
            }

            var batch = await redis.StreamReadGroupAsync(_options.ConsumerGroup, consumer, [StreamKey(band)], remaining, block: null, cancellationToken);
            AddEntries(batch, result);
        }

        if (result.Count == 0)
        {
            var keys = order.Select(StreamKey).ToArray();
            var batch = await redis.StreamReadGroupAsync(_options.ConsumerGroup, consumer, keys, count, _options.BlockTimeout, cancellationToken);
            AddEntries(batch, result);
        }

        return result;
    }

    /// <summary>
    /// Acknowledges a batch of entries in one round trip (one XACK per stream). A worker acks as soon as the claim
    /// statement has decided who runs each job: from then on the Postgres lease alone records it.
    /// </summary>
    public async Task AckAsync(IReadOnlyList<DispatchedJob> jobs)
    {
        var commands = jobs.GroupBy(j => j.StreamKey)
            .Select(g => new RedisCommand("XACK", [g.Key, _options.ConsumerGroup, .. g.Select(j => (object)j.EntryId)]))
            .ToArray();
        if (commands.Length == 0)
        {
            return;
        }

        var failed = (await redis.PipelineAsync(commands)).FirstOrDefault(r => r.IsError);
        if (failed.IsError)
        {
            throw new RedisServerException(failed.AsString() ?? "XACK failed");
        }
    }

    /// <summary>
    /// Takes over entries idle longer than <paramref name="minIdle"/>: read by a worker that died before its claim
    /// statement decided them (entries are acked right after it). Entries whose stream data was trimmed are
    /// acknowledged and dropped: Postgres and the reconciler still know the job.
    /// </summary>
    public async Task<IReadOnlyList<DispatchedJob>> ReclaimAsync(string consumer, TimeSpan minIdle, int count)
    {
        var reclaimed = new List<DispatchedJob>();
        foreach (var band in PriorityBands.ReadOrder)
        {
            var key = StreamKey(band);
            var (_, entries, deleted) = await redis.StreamAutoClaimAsync(key, _options.ConsumerGroup, consumer, minIdle, "0-0", count);
            reclaimed.AddRange(entries.Select(e => new DispatchedJob(Parse(e), key, e.Id)));
            if (deleted.Count > 0)
            {
                await redis.StreamAckAsync(key, _options.ConsumerGroup, [.. deleted]);
            }
        }

        return reclaimed;
    }

    /// <summary>Records a dead-lettered job in the dead-letter stream with the reason (its entry was acked at claim).</summary>
    public async Task DeadLetterAsync(DispatchedJob job, string reason)
    {
        await redis.StreamAddAsync(DeadLetterKey,
        [
            new("job_id", job.Dispatch.JobId.ToString()),
            new("stream", job.StreamKey),
            new("entry_id", job.EntryId),
            new("reason", reason),
        ], _options.MaxStreamLength);
    }

    private IReadOnlyList<PriorityBand> NextReadOrder()
    {
        var read = Interlocked.Increment(ref _reads);
        var every = Math.Max(1, _options.LowPriorityEveryNthRead);
        return read % every == 0 ? PriorityBands.ReadOrder.Reverse().ToArray() : PriorityBands.ReadOrder;
    }

    private RedisCommand StreamAddCommand(JobDispatch dispatch, string streamKey, bool makeStream)
    {
        List<object> args = makeStream ? [streamKey] : [streamKey, "NOMKSTREAM"];
        args.AddRange(["MAXLEN", "~", _options.MaxStreamLength, "*"]);
        foreach (var (name, value) in Fields(dispatch))
        {
            args.Add(name);
            args.Add(value);
        }

        return new RedisCommand("XADD", args);
    }

    private static List<KeyValuePair<string, string>> Fields(JobDispatch dispatch)
    {
        var fields = new List<KeyValuePair<string, string>>(4)
        {
            new(JobIdField, dispatch.JobId.ToString()),
            new(PriorityField, dispatch.Priority.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        };
        if (dispatch.TraceParent is not null)
        {
            fields.Add(new(TraceParentField, dispatch.TraceParent));
        }

        if (dispatch.TraceState is not null)
        {
            fields.Add(new(TraceStateField, dispatch.TraceState));
        }

        return fields;
    }

    private static void AddEntries(IReadOnlyList<StreamReadResult> batch, List<DispatchedJob> into)
    {
        foreach (var stream in batch)
        {
            foreach (var entry in stream.Entries)
            {
                into.Add(new DispatchedJob(Parse(entry), stream.Stream, entry.Id));
            }
        }
    }

    internal static JobDispatch Parse(StreamEntry entry)
    {
        var fields = entry.Fields;
        var jobId = fields.TryGetValue(JobIdField, out var idText) && Guid.TryParse(idText, out var id) ? id : Guid.Empty;
        var priority = fields.TryGetValue(PriorityField, out var p) && int.TryParse(p, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 0;
        fields.TryGetValue(TraceParentField, out var traceParent);
        fields.TryGetValue(TraceStateField, out var traceState);
        return new JobDispatch(jobId, priority, traceParent, traceState);
    }
}
