using LlmWorkflow.Engine.Redis;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Engine.Jobs;

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

    /// <summary>Enqueues many jobs in one pipelined round trip.</summary>
    public async Task EnqueueManyAsync(IReadOnlyList<JobDispatch> dispatches, CancellationToken cancellationToken = default)
    {
        if (dispatches.Count == 0)
        {
            return;
        }

        var commands = dispatches.Select(d => StreamAddCommand(d)).ToArray();
        var replies = await redis.PipelineAsync(commands, cancellationToken);
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

    public Task<long> AckAsync(DispatchedJob job) =>
        redis.StreamAckAsync(job.StreamKey, _options.ConsumerGroup, job.EntryId);

    private IReadOnlyList<PriorityBand> NextReadOrder()
    {
        var read = Interlocked.Increment(ref _reads);
        var every = Math.Max(1, _options.LowPriorityEveryNthRead);
        return read % every == 0 ? PriorityBands.ReadOrder.Reverse().ToArray() : PriorityBands.ReadOrder;
    }

    private RedisCommand StreamAddCommand(JobDispatch dispatch)
    {
        var args = new List<object> { StreamKey(PriorityBands.ForPriority(dispatch.Priority)), "MAXLEN", "~", _options.MaxStreamLength, "*" };
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
