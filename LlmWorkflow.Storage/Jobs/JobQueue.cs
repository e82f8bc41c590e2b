using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// Dispatch over Redis streams: one stream per <see cref="PriorityBand"/>, one consumer group shared by all workers.
/// Entries carry only the job id and trace context; Postgres decides whether the job still needs running. The
/// multiplexer refuses blocking commands, so a worker reads without blocking and, when every band is empty, waits for
/// the notice a dispatcher publishes after its XADD (<see cref="DispatchNotices"/>), or at most
/// <see cref="QueueOptions.PollInterval"/>, a safety net for a notice lost while a connection was re-established.
/// </summary>
public sealed partial class JobQueue(IConnectionMultiplexer redis, IOptions<QueueOptions> options)
{
    private const string JobIdField = "job_id";
    private const string PriorityField = "priority";
    private const string TraceParentField = "traceparent";
    private const string TraceStateField = "tracestate";

    private readonly QueueOptions _options = options.Value;
    private readonly Lazy<DispatchNotices> _notices = new(
        () => new DispatchNotices(redis, RedisChannel.Literal($"{options.Value.KeyPrefix}:jobs:dispatched")), LazyThreadSafetyMode.PublicationOnly);
    private long _reads;

    private IDatabase Db => redis.GetDatabase();

    private RedisChannel NoticeChannel => RedisChannel.Literal($"{_options.KeyPrefix}:jobs:dispatched");

    public string StreamKey(PriorityBand band) => band.StreamKey(_options.KeyPrefix);

    public IReadOnlyList<string> StreamKeys => PriorityBands.ReadOrder.Select(StreamKey).ToArray();

    public string ConsumerGroup => _options.ConsumerGroup;

    /// <summary>Where the API announces a cancel request for a running job (the message is its id): its worker stops it.</summary>
    public RedisChannel CancelChannel => RedisChannel.Literal($"{_options.KeyPrefix}:jobs:cancel");

    /// <summary>Tells the workers at once that a running job was asked to stop (they also poll Postgres, as a safety net).</summary>
    public async Task AnnounceCancelAsync(Guid jobId) => await redis.GetSubscriber().PublishAsync(CancelChannel, jobId.ToString());

    /// <summary>Calls <paramref name="onCancel"/> with the id of every job whose cancel is announced from now on.</summary>
    public async Task WatchCancelsAsync(Action<Guid> onCancel) =>
        await redis.GetSubscriber().SubscribeAsync(CancelChannel, (_, message) =>
        {
            if (Guid.TryParse((string?)message, out var jobId))
            {
                onCancel(jobId);
            }
        });

    public Task EnqueueAsync(JobDispatch dispatch, CancellationToken cancellationToken = default) => EnqueueManyAsync([dispatch], cancellationToken);

    /// <summary>
    /// Enqueues many jobs in one round trip, as one MULTI/EXEC transaction with the notice that wakes waiting workers,
    /// so a worker reads the whole batch (one claim, one ack for all of it).
    /// </summary>
    public async Task EnqueueManyAsync(IReadOnlyList<JobDispatch> dispatches, CancellationToken cancellationToken = default)
    {
        if (dispatches.Count == 0)
        {
            return;
        }

        var transaction = Db.CreateTransaction();
        var adds = dispatches
            .Select(d => transaction.StreamAddAsync(StreamKey(PriorityBands.ForPriority(d.Priority)), Fields(d),
                maxLength: (int)Math.Min(int.MaxValue, _options.MaxStreamLength), useApproximateMaxLength: true))
            .ToArray();
        var notice = transaction.PublishAsync(NoticeChannel, dispatches.Count);
        if (!await transaction.ExecuteAsync())
        {
            throw new RedisException("The dispatch transaction was not executed.");
        }

        await Task.WhenAll(adds);
        await notice;
    }

    /// <summary>
    /// Reads up to <paramref name="count"/> new entries for this consumer, highest band first. When every band is
    /// empty it waits for a dispatch notice (or <see cref="QueueOptions.PollInterval"/>) and reads once more.
    /// </summary>
    public async Task<IReadOnlyList<DispatchedJob>> ReadAsync(string consumer, int count, CancellationToken cancellationToken)
    {
        using var untraced = RedisSetup.Untraced();
        // Taken before the read, so a notice published after it is not missed while the read runs.
        var notice = _notices.Value.Next();
        var result = await ReadOnceAsync(consumer, count);
        if (result.Count == 0)
        {
            await notice.WaitAsync(_options.PollInterval, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            cancellationToken.ThrowIfCancellationRequested();
            result = await ReadOnceAsync(consumer, count);
        }

        return result;
    }

    private async Task<List<DispatchedJob>> ReadOnceAsync(string consumer, int count)
    {
        var result = new List<DispatchedJob>(count);
        foreach (var band in NextReadOrder())
        {
            var remaining = count - result.Count;
            if (remaining <= 0)
            {
                break;
            }

            var key = StreamKey(band);
            var entries = await Db.StreamReadGroupAsync(key, _options.ConsumerGroup, consumer, StreamPosition.NewMessages, remaining);
            result.AddRange(entries.Select(e => new DispatchedJob(Parse(e), key, e.Id.ToString())));
        }

        return result;
    }

    /// <summary>
    /// Acknowledges a batch of entries in one round trip (one XACK per stream). A worker acks as soon as the claim
    /// statement has decided who runs each job: from then on the Postgres lease alone records it.
    /// </summary>
    public async Task AckAsync(IReadOnlyList<DispatchedJob> jobs)
    {
        var batch = Db.CreateBatch();
        var acks = jobs.GroupBy(j => j.StreamKey)
            .Select(g => batch.StreamAcknowledgeAsync(g.Key, _options.ConsumerGroup, g.Select(j => (RedisValue)j.EntryId).ToArray()))
            .ToArray();
        batch.Execute();
        await Task.WhenAll(acks);
    }

    private IReadOnlyList<PriorityBand> NextReadOrder()
    {
        var read = Interlocked.Increment(ref _reads);
        var every = Math.Max(1, _options.LowPriorityEveryNthRead);
        return read % every == 0 ? PriorityBands.ReadOrder.Reverse().ToArray() : PriorityBands.ReadOrder;
    }

    private static NameValueEntry[] Fields(JobDispatch dispatch)
    {
        var fields = new List<NameValueEntry>(4)
        {
            new(JobIdField, dispatch.JobId.ToString()),
            new(PriorityField, dispatch.Priority),
        };
        if (dispatch.TraceParent is not null)
        {
            fields.Add(new(TraceParentField, dispatch.TraceParent));
        }

        if (dispatch.TraceState is not null)
        {
            fields.Add(new(TraceStateField, dispatch.TraceState));
        }

        return [.. fields];
    }

    internal static JobDispatch Parse(StreamEntry entry)
    {
        var jobId = Guid.TryParse((string?)entry[JobIdField], out var id) ? id : Guid.Empty;
        var priority = entry[PriorityField].TryParse(out int value) ? value : 0;
        return new JobDispatch(jobId, priority, (string?)entry[TraceParentField], (string?)entry[TraceStateField]);
    }
}

/// <summary>When the oldest entry of some streams was added, and the jobs of their first entries.</summary>
public sealed record FirstEntries(DateTimeOffset? Oldest, IReadOnlySet<Guid> JobIds);

/// <summary>
/// A pub/sub channel turned into a wake-up: <see cref="Next"/> returns a task that completes at the next message. The
/// subscription is made once, on first use; StackExchange.Redis renews it after a reconnect (messages published
/// meanwhile are lost, which the readers' bounded poll covers).
/// </summary>
internal sealed class DispatchNotices
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DispatchNotices(IConnectionMultiplexer redis, RedisChannel channel) =>
        redis.GetSubscriber().Subscribe(channel, (_, _) => Interlocked.Exchange(ref _next, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult());

    /// <summary>Completes at the next message after this call.</summary>
    public Task Next() => Volatile.Read(ref _next).Task;
}

/// <summary>What travels in a dispatch stream entry: the job id (Postgres holds everything else) and the trace context.</summary>
public sealed record JobDispatch(Guid JobId, int Priority, string? TraceParent = null, string? TraceState = null)
{
    /// <summary>
    /// The dispatch of a run its due time starts (a <c>run_at</c>, a sleep's or a wait's timeout, a parked step's
    /// re-check), continuing the job's own trace (<paramref name="traceId"/>, its submit's): the run joins that trace
    /// instead of opening a new one, so a job parked for hours is one trace in the Aspire dashboard, not one per
    /// wake-up (issue 80). The parent span id is new: the submit's is not stored. Without a trace id, none.
    /// </summary>
    public static JobDispatch ContinuingTrace(Guid jobId, int priority, string? traceId) =>
        new(jobId, priority, traceId is { Length: 32 } ? $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01" : null);
}

/// <summary>A dispatch entry read from a stream, with what is needed to acknowledge it.</summary>
public sealed record DispatchedJob(JobDispatch Dispatch, string StreamKey, string EntryId);
