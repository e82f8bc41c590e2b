using System.Text.Json;
using LlmWorkflow.Contracts;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// The per-job live event stream in Redis (<c>{prefix}:events:{jobId}</c>) that the API serves as Server-Sent
/// Events. Entry ids double as SSE ids, so a client resumes with <c>Last-Event-ID</c>. Streams expire an hour after
/// the terminal event (the worker's publisher: an hour to an hour and ten minutes; a day after a run parks, and the
/// first event's expiry stands when the terminal one is lost); Postgres keeps the durable record. Every batch of writes is
/// followed by one notice naming its jobs on one channel (<see cref="NoticeChannel"/>: one PUBLISH per batch, not per job),
/// which wakes the requests reading those streams (the multiplexer refuses a blocking XREAD).
/// </summary>
public sealed class JobEventStream(IConnectionMultiplexer redis, IOptions<QueueOptions> options)
{
    public const string TypeField = "type";
    public const string DataField = "data";
    private const int MaxEventsPerJob = 5_000;
    public static readonly TimeSpan RetentionAfterEnd = TimeSpan.FromHours(1);

    /// <summary>
    /// How often the worker's publisher renews a running job's expiry (<see cref="RetentionWhileWriting"/>): a job that
    /// ends within it needs no other EXPIRE, its stream already lives an hour past the end.
    /// </summary>
    public static readonly TimeSpan RenewExpiryAfter = TimeSpan.FromMinutes(10);

    /// <summary>The expiry the worker's publisher gives a stream it writes: an hour past its end, whenever that comes.</summary>
    public static readonly TimeSpan RetentionWhileWriting = RetentionAfterEnd + RenewExpiryAfter;

    /// <summary>
    /// The expiry a stream gets with its first event, shortened to <see cref="RetentionAfterEnd"/> by the terminal one:
    /// a job that finishes while Redis is unreachable never writes its terminal event, and its stream must still go.
    /// </summary>
    public static readonly TimeSpan RetentionWhileRunning = TimeSpan.FromDays(1);

    public static IReadOnlySet<string> TerminalTypes => LiveEventTypes.Terminal;

    public string Key(Guid jobId) => $"{options.Value.KeyPrefix}:events:{jobId}";

    /// <summary>The channel a notice goes to after events were written: its message is the jobs' ids, 16 bytes each.</summary>
    public RedisChannel NoticeChannel => RedisChannel.Literal($"{options.Value.KeyPrefix}:events:written");

    // This process's readers by job, woken by the notices of the one subscription the first reader makes.
    private readonly Dictionary<Guid, List<EventWatch>> _watches = [];
    private Task? _subscribed;

    /// <summary>The notice naming <paramref name="jobIds"/>.</summary>
    public static RedisValue Notice(IReadOnlyCollection<Guid> jobIds)
    {
        var notice = new byte[jobIds.Count * 16];
        var at = 0;
        foreach (var id in jobIds)
        {
            id.TryWriteBytes(notice.AsSpan(at));
            at += 16;
        }

        return notice;
    }

    /// <summary>Writes one event outside the worker's batched publisher (a cancel made by the API, for one).</summary>
    public Task PublishAsync(LiveJobEvent liveEvent, CancellationToken cancellationToken = default) =>
        PublishAsync(Guid.Parse(liveEvent.JobId), liveEvent.Type ?? "message",
            JsonSerializer.Serialize(liveEvent, WireJsonContext.Default.LiveJobEvent), cancellationToken);

    private async Task PublishAsync(Guid jobId, string type, string data, CancellationToken cancellationToken)
    {
        var batch = redis.GetDatabase().CreateBatch();
        var writes = new List<Task>(3) { AddTo(batch, jobId, type, data), ExpireUnlessSet(batch, jobId) };
        writes.Add(batch.PublishAsync(NoticeChannel, Notice([jobId])));
        batch.Execute();
        await Task.WhenAll(writes);
    }

    /// <summary>Queues the XADD of one event (and, for a terminal one, the stream's expiry) on a batch.</summary>
    public Task AddTo(IBatch batch, Guid jobId, string type, RedisValue data)
    {
        var key = Key(jobId);
        var add = batch.StreamAddAsync(key, [new(TypeField, type), new(DataField, data)], maxLength: MaxEventsPerJob, useApproximateMaxLength: true);
        return TerminalTypes.Contains(type) ? Task.WhenAll(add, batch.KeyExpireAsync(key, RetentionAfterEnd)) : add;
    }

    /// <summary>Queues the XADD of one event alone: the worker's publisher sets the stream's expiry itself.</summary>
    public Task AddOnly(IBatch batch, Guid jobId, string type, RedisValue data) =>
        batch.StreamAddAsync(Key(jobId), [new(TypeField, type), new(DataField, data)], maxLength: MaxEventsPerJob, useApproximateMaxLength: true);

    /// <summary>Queues the stream's expiry.</summary>
    public Task Expire(IBatch batch, Guid jobId, TimeSpan expiry) => batch.KeyExpireAsync(Key(jobId), expiry);

    /// <summary>
    /// Queues the stream's expiry of <see cref="RetentionWhileRunning"/> when it has none yet (EXPIRE NX, Redis 7), after
    /// the batch's XADDs: one per job and batch, and a no-op once a terminal event set the shorter one.
    /// </summary>
    public Task ExpireUnlessSet(IBatch batch, Guid jobId) => batch.KeyExpireAsync(Key(jobId), RetentionWhileRunning, ExpireWhen.HasNoExpiry);

    /// <summary>Forgets a job's live events (a retried job starts a fresh stream).</summary>
    public async Task DeleteAsync(Guid jobId) => await redis.GetDatabase().KeyDeleteAsync(Key(jobId));

    /// <summary>The stream's newest event, or null when the stream does not exist (never written, expired or deleted).</summary>
    public async Task<StreamEntry?> LastAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var entries = await redis.GetDatabase().StreamRangeAsync(Key(jobId), "-", "+", count: 1, messageOrder: Order.Descending);
        return entries.Length == 0 ? null : entries[0];
    }

    /// <summary>Events after <paramref name="afterId"/> ("0" = from the start), without waiting.</summary>
    public async Task<StreamEntry[]> ReadAsync(Guid jobId, string afterId, CancellationToken cancellationToken) =>
        await redis.GetDatabase().StreamReadAsync(Key(jobId), afterId, count: 100);

    /// <summary>
    /// Watches the job's notices; the watch's <see cref="EventWatch.Next"/> completes at the next write. Dispose it to
    /// stop. The process subscribes to the notice channel once, with its first reader, and keeps the subscription.
    /// </summary>
    public async Task<EventWatch> WatchAsync(Guid jobId)
    {
        var watch = new EventWatch(this, jobId);
        lock (_watches)
        {
            _watches.TryGetValue(jobId, out var list);
            (_watches[jobId] = list ?? []).Add(watch);
            // A failed subscribe is tried again by the next reader (once made, the multiplexer renews it on reconnect).
            _subscribed = _subscribed is { IsFaulted: false } ? _subscribed : redis.GetSubscriber().SubscribeAsync(NoticeChannel, OnNotice);
        }

        try
        {
            await _subscribed;
        }
        catch
        {
            Forget(watch);
            throw;
        }

        return watch;
    }

    /// <summary>Whether a reader in this process watches the job's notices.</summary>
    internal bool IsWatched(Guid jobId)
    {
        lock (_watches)
        {
            return _watches.ContainsKey(jobId);
        }
    }

    private void OnNotice(RedisChannel _, RedisValue notice)
    {
        var ids = ((ReadOnlyMemory<byte>)notice).Span;
        lock (_watches)
        {
            for (var at = 0; at + 16 <= ids.Length; at += 16)
            {
                if (_watches.TryGetValue(new Guid(ids.Slice(at, 16)), out var watches))
                {
                    watches.ForEach(watch => watch.Wake());
                }
            }
        }
    }

    private void Forget(EventWatch watch)
    {
        lock (_watches)
        {
            if (_watches.TryGetValue(watch.JobId, out var list) && list.Remove(watch) && list.Count == 0)
            {
                _watches.Remove(watch.JobId);
            }
        }
    }

    /// <summary>One reader's watch of a job's notices.</summary>
    public sealed class EventWatch(JobEventStream stream, Guid jobId) : IAsyncDisposable
    {
        private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Guid JobId => jobId;

        /// <summary>Completes at the next notice after this call.</summary>
        public Task Next() => Volatile.Read(ref _next).Task;

        internal void Wake() => Interlocked.Exchange(ref _next, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

        public ValueTask DisposeAsync()
        {
            stream.Forget(this);
            return ValueTask.CompletedTask;
        }
    }
}
