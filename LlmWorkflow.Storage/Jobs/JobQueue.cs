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
public sealed class JobQueue(IConnectionMultiplexer redis, IOptions<QueueOptions> options)
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

    /// <summary>Where the API announces a scheduled job's due time (Unix milliseconds), so a waker sleeping past it wakes earlier.</summary>
    private RedisChannel DueChannel => RedisChannel.Literal($"{_options.KeyPrefix}:jobs:due");

    /// <summary>Tells the workers' wakers that a job is due at <paramref name="dueAt"/> (they also re-read PostgreSQL, as a safety net).</summary>
    public async Task AnnounceDueAsync(DateTimeOffset dueAt) => await redis.GetSubscriber().PublishAsync(DueChannel, dueAt.ToUnixTimeMilliseconds());

    /// <summary>Calls <paramref name="onDue"/> with every due time announced from now on.</summary>
    public async Task WatchDueAsync(Action<DateTimeOffset> onDue) =>
        await redis.GetSubscriber().SubscribeAsync(DueChannel, (_, message) =>
        {
            if (message.TryParse(out long milliseconds))
            {
                onDue(DateTimeOffset.FromUnixTimeMilliseconds(milliseconds));
            }
        });

    /// <summary>Where the API announces a new job's start_by (ttl_seconds; Unix milliseconds), so the workers' expirers wake on time.</summary>
    private RedisChannel ExpiryChannel => RedisChannel.Literal($"{_options.KeyPrefix}:jobs:expiry");

    /// <summary>Tells the workers' expirers that a job expires at <paramref name="startBy"/> unless started (a lost notice: their minute's reread).</summary>
    public async Task AnnounceExpiryAsync(DateTimeOffset startBy) => await redis.GetSubscriber().PublishAsync(ExpiryChannel, startBy.ToUnixTimeMilliseconds());

    /// <summary>Calls <paramref name="onAnnounced"/> with every start_by announced from now on.</summary>
    public async Task WatchExpiryAsync(Action<DateTimeOffset> onAnnounced) =>
        await redis.GetSubscriber().SubscribeAsync(ExpiryChannel, (_, message) =>
        {
            if (message.TryParse(out long milliseconds))
            {
                onAnnounced(DateTimeOffset.FromUnixTimeMilliseconds(milliseconds));
            }
        });

    /// <summary>Where entries delivered too many times go, with the reason; their jobs are failed.</summary>
    public string DeadLetterKey => $"{_options.KeyPrefix}:jobs:dead";

    /// <summary>
    /// Creates the consumer group on every stream where it is missing (idempotent) and returns the streams where it
    /// was: on a running system that means Redis lost its data (FLUSHALL, or a restart without persistence), and
    /// every queued job needs its entry again (<c>DispatchReconciler</c> sends them).
    /// </summary>
    public async Task<IReadOnlyList<string>> EnsureConsumerGroupsAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var untraced = RedisSetup.Untraced();
        var keys = StreamKeys.Select(key => (RedisKey)key).ToArray();
        var created = (RedisResult[]?)await Db.ScriptEvaluateAsync(CreateMissingGroupsScript, keys, [_options.ConsumerGroup]);
        return created?.Select(key => (string)key!).ToArray() ?? [];
    }

    // One round trip that looks before it creates: every worker runs this every few seconds, and XGROUP CREATE on an
    // existing group would answer BUSYGROUP (an error reply, logged by Redis's error stats) each time.
    // "$" would skip entries the API added after a loss (into a stream without the group); "0" reads them.
    private const string CreateMissingGroupsScript = """
        local created = {}
        for _, key in ipairs(KEYS) do
          local found = false
          if redis.call('EXISTS', key) == 1 then
            for _, group in ipairs(redis.call('XINFO', 'GROUPS', key)) do
              for i = 1, #group, 2 do
                if group[i] == 'name' and group[i + 1] == ARGV[1] then found = true end
              end
            end
          end
          if not found then
            redis.call('XGROUP', 'CREATE', key, ARGV[1], '0', 'MKSTREAM')
            table.insert(created, key)
          end
        end
        return created
        """;

    /// <summary>
    /// The first <paramref name="count"/> entries of each of <paramref name="keys"/>: when the oldest was added (stream
    /// ids are Redis's clock in milliseconds; null when the streams are empty) and whose jobs they are. After a loss, the
    /// streams were recreated by XADDs made since, so a queued job dispatched before that time lost its entry, unless it
    /// is one of these jobs: a job's dispatch time is taken just before its XADD, so a job whose entry was kept (every
    /// job, on a first start) can have been dispatched a little before the oldest entry.
    /// </summary>
    public async Task<FirstEntries> FirstEntriesAsync(IEnumerable<string> keys, int count)
    {
        DateTimeOffset? oldest = null;
        var jobIds = new HashSet<Guid>();
        foreach (var key in keys)
        {
            var entries = await Db.StreamRangeAsync(key, "-", "+", count: count);
            if (entries is [var first, ..])
            {
                var id = first.Id.ToString();
                var at = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(id.AsSpan(0, id.IndexOf('-', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture));
                oldest = oldest is { } known && known < at ? known : at;
            }

            jobIds.UnionWith(entries.Select(entry => Parse(entry).JobId));
        }

        return new FirstEntries(oldest, jobIds);
    }

    /// <summary>True for the error a read, claim or ack gets when its stream or consumer group is gone.</summary>
    public static bool IsMissingGroup(Exception exception) =>
        exception is RedisServerException { Message: var message } && message.StartsWith("NOGROUP", StringComparison.Ordinal);

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

    /// <summary>
    /// Trims each stream up to its group's oldest entry still pending (or, with none pending, past its last delivered
    /// entry): what lies before it was acknowledged, so no reader needs it; entries not yet delivered stay. XTRIM MINID, not XDEL: deleting entries
    /// leaves tombstones that make Redis report the group's lag as unknown, and the lag is what KEDA scales on.
    /// Returns the entries removed.
    /// </summary>
    public async Task<long> TrimAcknowledgedAsync()
    {
        using var untraced = RedisSetup.Untraced();
        long trimmed = 0;
        foreach (var key in StreamKeys)
        {
            var groups = await Db.StreamGroupInfoAsync(key);
            if (groups.FirstOrDefault(g => g.Name == _options.ConsumerGroup) is not { LastDeliveredId: { } lastDelivered } group)
            {
                continue;
            }

            var keepFrom = group.PendingMessageCount > 0
                ? (string?)(await Db.StreamPendingAsync(key, _options.ConsumerGroup)).LowestPendingMessageId
                : AfterId(lastDelivered);
            if (!string.IsNullOrEmpty(keepFrom) && keepFrom != "0-0")
            {
                trimmed += (long)await Db.ExecuteAsync("XTRIM", key, "MINID", keepFrom);
            }
        }

        return trimmed;
    }

    /// <summary>
    /// Takes over entries idle longer than <paramref name="minIdle"/>: read by a worker that died before its claim
    /// statement decided them (entries are acked right after it). Entries whose stream data was trimmed are
    /// acknowledged and dropped: Postgres and the reconciler still know the job.
    /// </summary>
    public async Task<IReadOnlyList<DispatchedJob>> ReclaimAsync(string consumer, TimeSpan minIdle, int count)
    {
        using var untraced = RedisSetup.Untraced();
        var reclaimed = new List<DispatchedJob>();
        foreach (var band in PriorityBands.ReadOrder)
        {
            var key = StreamKey(band);
            var claim = await Db.StreamAutoClaimAsync(key, _options.ConsumerGroup, consumer, (long)minIdle.TotalMilliseconds, "0-0", count);
            reclaimed.AddRange(claim.ClaimedEntries.Where(e => !e.IsNull).Select(e => new DispatchedJob(Parse(e), key, e.Id.ToString())));
            if (claim.DeletedIds.Length > 0)
            {
                await Db.StreamAcknowledgeAsync(key, _options.ConsumerGroup, claim.DeletedIds);
            }
        }

        return reclaimed;
    }

    /// <summary>Records a dead-lettered job in the dead-letter stream with the reason (its entry was acked at claim).</summary>
    public async Task DeadLetterAsync(DispatchedJob job, string reason)
    {
        await Db.StreamAddAsync(DeadLetterKey,
        [
            new("job_id", job.Dispatch.JobId.ToString()),
            new("stream", job.StreamKey),
            new("entry_id", job.EntryId),
            new("reason", reason),
        ], maxLength: (int)Math.Min(int.MaxValue, _options.MaxStreamLength), useApproximateMaxLength: true);
    }

    /// <summary>The smallest stream id after <paramref name="id"/> (<c>ms-seq</c>): what MINID keeps to drop the id itself.</summary>
    private static string AfterId(string id)
    {
        var dash = id.IndexOf('-', StringComparison.Ordinal);
        return dash < 0 ? $"{id}-1" : $"{id[..dash]}-{ulong.Parse(id.AsSpan(dash + 1), System.Globalization.CultureInfo.InvariantCulture) + 1}";
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
