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
/// order; after each batch one notice per job wakes the requests serving its events. Live events are best effort: Postgres keeps the durable record, and when Redis is unreachable (or the
/// buffer is full) events are dropped with a warning rather than slowing jobs down.
/// </summary>
internal sealed partial class LiveEventPublisher(IConnectionMultiplexer redis, JobEventStream events, ILogger<LiveEventPublisher> logger) : BackgroundService
{
    private const int MaxBatch = 256;
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
        var jobs = new HashSet<Guid>();
        while (_pending.Reader.TryRead(out var first))
        {
            writes.Clear();
            jobs.Clear();
            var batch = redis.GetDatabase().CreateBatch();
            var item = first;
            var count = 0;
            var types = new HashSet<string>(StringComparer.Ordinal);
            var ending = new HashSet<Guid>();
            do
            {
                writes.Add(events.AddTo(batch, item.JobId, item.Type, item.Data));
                jobs.Add(item.JobId);
                types.Add(item.Type);
                if (JobEventStream.TerminalTypes.Contains(item.Type))
                {
                    ending.Add(item.JobId);
                }
            }
            while (++count < MaxBatch && _pending.Reader.TryRead(out item!));

            // A stream whose terminal event is in this batch gets its expiry with it; the others get theirs here.
            writes.AddRange(jobs.Where(job => !ending.Contains(job)).Select(job => events.ExpireUnlessSet(batch, job)));
            writes.AddRange(jobs.Select(job => batch.PublishAsync(events.NoticeChannel(job), count)));
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

    private sealed record LiveEvent(Guid JobId, string Type, byte[] Data);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live event buffer full: dropped {Type} of job {JobId}")]
    private partial void LogDropped(string type, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write {Count} live event(s) of {Jobs} job(s) to Redis ({Types}); they are dropped (Postgres keeps the record, and readers get a finished job's ending from it)")]
    private partial void LogWriteFailed(Exception ex, int count, int jobs, string types);
}
