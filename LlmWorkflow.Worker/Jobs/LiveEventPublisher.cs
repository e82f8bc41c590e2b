using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using LlmWorkflow.Contracts;
using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using LlmWorkflow.Storage.Jobs;
using StackExchange.Redis;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Writes the worker's live progress events to the per-job Redis streams in the background, pipelining many events
/// per round trip, so a job never waits on Redis to report progress. A single writer keeps each job's events in
/// order; after each batch one notice naming its jobs wakes the requests serving their events. Live events are best effort: Postgres keeps the durable record, and when Redis is unreachable (or the
/// buffer is full) events are dropped with a warning rather than slowing jobs down.
/// </summary>
internal sealed partial class LiveEventPublisher(IConnectionMultiplexer redis, JobEventStream events, ILogger<LiveEventPublisher> logger) : BackgroundService
{
    private const int MaxBatch = 256;

    // When this publisher last gave each running job's stream its expiry (the writer loop's alone): a job gets one
    // EXPIRE with its first events and none at its end while that one still reaches an hour past it.
    private readonly Dictionary<Guid, long> _expirySetAt = [];
    private long _lastPrune = Stopwatch.GetTimestamp();
    private readonly Channel<LiveEvent> _pending = Channel.CreateBounded<LiveEvent>(
        new BoundedChannelOptions(100_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    /// <summary>Queues the event, already serialized: it is not read again, so its JSON is fixed when it happens.</summary>
    public void Publish(Guid jobId, ProgressEvent progressEvent) => Enqueue(jobId, progressEvent.Kind, ProgressEventJson.ToUtf8(progressEvent));

    /// <summary>Queues a wire event the worker completed beyond what the engine knows (an approval's decision links).</summary>
    public void Publish(Guid jobId, LiveJobEvent wire) =>
        Enqueue(jobId, wire.Type!, JsonSerializer.SerializeToUtf8Bytes(wire, WireJsonContext.Default.LiveJobEvent));

    private void Enqueue(Guid jobId, string kind, byte[] json)
    {
        if (!_pending.Writer.TryWrite(new LiveEvent(jobId, kind, json)))
        {
            LogDropped(kind, jobId);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Task>(MaxBatch * 2);
        try
        {
            while (await _pending.Reader.WaitToReadAsync(stoppingToken))
            {
                await FlushAsync(batch);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Shutting down: write what is left so clients see the final events of drained jobs.
        await FlushAsync(batch);
    }

    private async Task FlushAsync(List<Task> writes)
    {
        while (_pending.Reader.TryRead(out var first))
        {
            writes.Clear();
            var batch = redis.GetDatabase().CreateBatch();
            var item = first;
            var count = 0;
            var types = new HashSet<string>(StringComparer.Ordinal);
            var jobs = new Dictionary<Guid, string>(); // each job of the batch → its last event's type (an end stays last)
            do
            {
                writes.Add(events.AddOnly(batch, item.JobId, item.Type, item.Data));
                types.Add(item.Type);
                if (!jobs.TryGetValue(item.JobId, out var last) || !JobEventStream.TerminalTypes.Contains(last))
                {
                    jobs[item.JobId] = item.Type;
                }
            }
            while (++count < MaxBatch && _pending.Reader.TryRead(out item!));

            foreach (var (job, type) in jobs)
            {
                if (ExpiryFor(job, type) is { } expiry)
                {
                    writes.Add(events.Expire(batch, job, expiry));
                }
            }

            writes.Add(batch.PublishAsync(events.NoticeChannel, JobEventStream.Notice(jobs.Keys)));
            batch.Execute();
            try
            {
                await Task.WhenAll(writes);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogWriteFailed(ex, count, jobs.Count, string.Join(", ", types));
            }
        }
    }

    /// <summary>
    /// The expiry the job's stream needs after this batch, or null when the one it has will do: an hour and ten minutes
    /// with the first events (renewed every ten minutes while the run writes), so a job ending within that needs no
    /// EXPIRE at its end, and one that finishes while Redis is unreachable still expires; an hour from a later end; a
    /// day from a park (a waiting job's stream outlives its wait, as its record does).
    /// </summary>
    private TimeSpan? ExpiryFor(Guid job, string lastType)
    {
        var now = Stopwatch.GetTimestamp();
        var set = _expirySetAt.TryGetValue(job, out var at);
        if (JobEventStream.TerminalTypes.Contains(lastType) || lastType == LiveEventTypes.RunWaiting)
        {
            _expirySetAt.Remove(job);
            return lastType == LiveEventTypes.RunWaiting ? JobEventStream.RetentionWhileRunning
                : set && Stopwatch.GetElapsedTime(at, now) < JobEventStream.RenewExpiryAfter ? null : JobEventStream.RetentionAfterEnd;
        }

        PruneLostRuns(now);
        if (set && Stopwatch.GetElapsedTime(at, now) < JobEventStream.RenewExpiryAfter)
        {
            return null;
        }

        _expirySetAt[job] = now;
        return JobEventStream.RetentionWhileWriting;
    }

    /// <summary>Forgets the runs that stopped writing without an end here (handed back, moved to another worker).</summary>
    private void PruneLostRuns(long now)
    {
        if (Stopwatch.GetElapsedTime(_lastPrune, now) < JobEventStream.RenewExpiryAfter)
        {
            return;
        }

        _lastPrune = now;
        foreach (var job in _expirySetAt.Where(e => Stopwatch.GetElapsedTime(e.Value, now) >= JobEventStream.RetentionWhileWriting).Select(e => e.Key).ToList())
        {
            _expirySetAt.Remove(job);
        }
    }

    private sealed record LiveEvent(Guid JobId, string Type, byte[] Data);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live event buffer full: dropped {Type} of job {JobId}")]
    private partial void LogDropped(string type, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write {Count} live event(s) of {Jobs} job(s) to Redis ({Types}); they are dropped (Postgres keeps the record, and readers get a finished job's ending from it)")]
    private partial void LogWriteFailed(Exception ex, int count, int jobs, string types);
}
