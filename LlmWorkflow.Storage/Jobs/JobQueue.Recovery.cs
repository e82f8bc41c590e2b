using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// The queue's recovery and upkeep, which a job that runs once never meets: due-time notices for waiting jobs, the
/// consumer groups' creation and the reconciler's look at the streams, reclaims of entries a dead worker held, dead
/// letters and the trim behind the group.
/// </summary>
public sealed partial class JobQueue
{
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
}
