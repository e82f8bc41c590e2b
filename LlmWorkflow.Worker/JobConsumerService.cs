using Microsoft.Extensions.Options;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Worker.Jobs;
using StackExchange.Redis;

namespace LlmWorkflow.Worker;

/// <summary>
/// Reads dispatch entries for this worker and runs up to <see cref="WorkerOptions.MaxConcurrentJobs"/> jobs at once.
/// Each batch of entries is claimed in Postgres (one statement) and then acknowledged: from there the lease records who
/// runs a job. On shutdown it stops reading, gives in-flight jobs <see cref="WorkerOptions.DrainTimeout"/> to finish,
/// then cancels them; a cancelled-by-shutdown job is released (lease cleared) so another worker resumes it from its
/// checkpoints.
/// </summary>
internal sealed partial class JobConsumerService(
    JobQueue queue,
    JobProcessor processor,
    JobClaims claims,
    DispatchReconciler reconciler,
    DispatchReadHealth readHealth,
    IOptions<WorkerOptions> options,
    ILogger<JobConsumerService> logger) : BackgroundService
{
    private readonly WorkerOptions _options = options.Value;
    private readonly CancellationTokenSource _abortJobs = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // No group is created here: the first read meets the missing group (NOGROUP) and heals it like any later loss,
        // re-dispatching every queued job whose entry went, so a worker starting after Redis lost its data finds the
        // jobs accepted before.
        LogStarted(_options.Id, _options.MaxConcurrentJobs);

        var slots = new SemaphoreSlim(_options.MaxConcurrentJobs, _options.MaxConcurrentJobs);
        var inFlight = new HashSet<Task>();
        var backoff = TimeSpan.FromMilliseconds(200);
        var nextReclaim = DateTimeOffset.UtcNow;

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await slots.WaitAsync(stoppingToken);
                IReadOnlyList<DispatchedJob> batch = [];
                try
                {
                    var free = slots.CurrentCount + 1;
                    if (DateTimeOffset.UtcNow >= nextReclaim)
                    {
                        // Entries idle past the lease belong to dead workers: take them over (they resume from checkpoints).
                        batch = await queue.ReclaimAsync(_options.Id, _options.LeaseDuration, free);
                        nextReclaim = DateTimeOffset.UtcNow + _options.ReclaimInterval;
                    }

                    if (batch.Count == 0)
                    {
                        batch = await queue.ReadAsync(_options.Id, free, stoppingToken);
                    }
                }
                finally
                {
                    slots.Release();
                }

                backoff = TimeSpan.FromMilliseconds(200);
                readHealth.Succeeded();
                await StartBatchAsync(batch, slots, inFlight, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                var failure = ex;
                if (JobQueue.IsMissingGroup(ex))
                {
                    // The group was gone (a first start, or Redis lost its data): recreated, and every queued job
                    // dispatched again (.Recovery.cs); read on at once. When recreating fails, that failure is the cause to report.
                    failure = await TryHealAsync(stoppingToken);
                    if (failure is null)
                    {
                        continue;
                    }
                }

                // Redis or Postgres unavailable: keep the worker alive and retry with backoff.
                readHealth.Failed(failure);
                LogReadFailed(ex, backoff.TotalMilliseconds);
                await Task.Delay(backoff, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 5_000));
            }
        }

        await DrainAsync(inFlight);
    }

    /// <summary>Claims a batch's jobs, acknowledges its entries, and starts the claimed runs.</summary>
    private async Task StartBatchAsync(IReadOnlyList<DispatchedJob> batch, SemaphoreSlim slots, HashSet<Task> inFlight, CancellationToken stoppingToken)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var claimed = await claims.ClaimAsync(batch, stoppingToken);
        // The claim decided who runs each job; the Postgres lease records it from here on. Until this ack the entries
        // are pending, so a worker dying between the read and the claim loses none of them.
        try
        {
            await queue.AckAsync(batch);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The claimed jobs run anyway: their lease records them. An entry left pending is reclaimed later and
            // its claim finds the job taken; an entry gone with Redis's data needs nothing.
            LogAckFailed(ex, batch.Count);
        }

        // A job id can appear twice in one batch (a re-dispatched entry): only the first entry runs it.
        var started = new HashSet<Guid>();
        foreach (var entry in batch)
        {
            if (!started.Add(entry.Dispatch.JobId) || !claimed.TryGetValue(entry.Dispatch.JobId, out var claim))
            {
                continue;
            }

            await slots.WaitAsync(stoppingToken);
            Track(inFlight, RunOneAsync(entry, claim, slots));
            if (processor.CallsOut(claim))
            {
                // Go to the back of the thread pool's queue before starting the next job: the job just started queues
                // its next steps there too (its provider connection opened, its request sent). Without this, a batch of
                // 500 LLM jobs queued all of its starts first, and no request left until every job had started.
                await Task.Yield();
            }
        }
    }

    private async Task DrainAsync(HashSet<Task> inFlight)
    {
        Task[] draining;
        lock (inFlight)
        {
            draining = [.. inFlight];
        }

        LogDraining(draining.Length, _options.DrainTimeout.TotalSeconds);
        var all = Task.WhenAll(draining);
        if (await Task.WhenAny(all, Task.Delay(_options.DrainTimeout, CancellationToken.None)) != all)
        {
            await _abortJobs.CancelAsync();
            await all.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        LogStopped(_options.Id);
    }

    private async Task RunOneAsync(DispatchedJob job, ClaimedJob claimed, SemaphoreSlim slots)
    {
        try
        {
            await Task.Yield();
            await processor.ProcessAsync(job, claimed, _abortJobs.Token);
            await claims.ReleaseSlotAsync(claimed);
        }
        catch (Exception ex)
        {
            LogJobCrashed(ex, job.Dispatch.JobId);
        }
        finally
        {
            slots.Release();
        }
    }

    private static void Track(HashSet<Task> inFlight, Task task)
    {
        lock (inFlight)
        {
            inFlight.Add(task);
        }

        _ = task.ContinueWith(t => { lock (inFlight) { inFlight.Remove(t); } }, TaskScheduler.Default);
    }

    public override void Dispose()
    {
        _abortJobs.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker started: {WorkerId}, up to {MaxConcurrentJobs} concurrent jobs")]
    private partial void LogStarted(string workerId, int maxConcurrentJobs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the dispatch streams failed; retrying in {DelayMs} ms")]
    private partial void LogReadFailed(Exception ex, double delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Acknowledging {Count} claimed dispatch entries failed; the claimed jobs run anyway")]
    private partial void LogAckFailed(Exception ex, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining {Count} in-flight job(s), waiting up to {Seconds} s")]
    private partial void LogDraining(int count, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker stopped: {WorkerId}")]
    private partial void LogStopped(string workerId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} crashed in the worker")]
    private partial void LogJobCrashed(Exception ex, Guid jobId);
}
