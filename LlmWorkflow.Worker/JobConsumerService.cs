using Microsoft.Extensions.Options;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Worker;

/// <summary>
/// Reads dispatch entries for this worker and runs up to <see cref="WorkerOptions.MaxConcurrentJobs"/> jobs at once;
/// after a small read in a steady flow the next read waits for company (<see cref="ClaimLinger"/>), and of the worker
/// processes on one machine only the one holding the <see cref="ReadTurn"/> reads.
/// The entries of jobs run without a claim (workflows that only compute) are acknowledged after those runs end.
/// On shutdown it stops reading, gives in-flight jobs <see cref="WorkerOptions.DrainTimeout"/> to finish, then
/// cancels them; a cancelled-by-shutdown job is released (lease cleared) so another worker resumes it from its checkpoints.
/// </summary>
internal sealed partial class JobConsumerService(
    JobQueue queue,
    ReadTurn turn,
    JobProcessor processor,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<JobConsumerService> logger) : BackgroundService
{
    private readonly WorkerOptions _options = options.Value;
    private readonly CancellationTokenSource _abortJobs = new();
    private readonly ClaimLinger _linger = new(options.Value, time);
    // Runs in flight whose workflow waits on the network (JobProcessor.CallsOut).
    private int _networkRuns;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await queue.EnsureConsumerGroupsAsync(stoppingToken);
        LogStarted(_options.Id, _options.MaxConcurrentJobs);

        var slots = new SemaphoreSlim(_options.MaxConcurrentJobs, _options.MaxConcurrentJobs);
        var inFlight = new HashSet<Task>();
        var backoff = TimeSpan.FromMilliseconds(200);
        var nextReclaim = DateTimeOffset.UtcNow;

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (_linger.BeforeRead() is { Ticks: > 0 } wait)
                {
                    // The last read was small in a steady flow: let more arrive, so they are claimed in one batch.
                    await Task.Delay(wait, time, stoppingToken);
                }

                if (!await slots.WaitAsync(_options.BatchLinger, stoppingToken))
                {
                    // Every slot busy for a while: this worker takes no more for now. While some of its jobs wait on the
                    // network (LLMs, external APIs), another worker of this machine adds capacity, so it reads meanwhile.
                    // Jobs that only compute wait on this machine's cores and its database writes, which a second reader
                    // shares: handing it the flow would only split it (a stall that outlasts the turn lets it lapse).
                    if (Volatile.Read(ref _networkRuns) > 0)
                    {
                        await turn.GiveUpAsync(stoppingToken);
                    }

                    await slots.WaitAsync(stoppingToken);
                }

                var free = slots.CurrentCount + 1;
                IReadOnlyList<DispatchedJob> batch;
                var reclaimed = false;
                var turnHeldElsewhere = false;
                try
                {
                    batch = [];
                    if (DateTimeOffset.UtcNow >= nextReclaim)
                    {
                        // Entries idle past the lease belong to dead workers: take them over (they resume from checkpoints).
                        batch = await queue.ReclaimAsync(_options.Id, _options.LeaseDuration, free);
                        reclaimed = batch.Count > 0;
                        nextReclaim = DateTimeOffset.UtcNow + _options.ReclaimInterval;
                    }

                    if (batch.Count == 0)
                    {
                        if (await turn.TryTakeAsync(stoppingToken))
                        {
                            batch = await queue.ReadAsync(_options.Id, free, stoppingToken);
                            _linger.Read(batch.Count, free);
                        }
                        else
                        {
                            turnHeldElsewhere = true;
                        }
                    }
                }
                finally
                {
                    slots.Release();
                }

                if (turnHeldElsewhere)
                {
                    // Another worker of this machine reads while it keeps up; ask again once it hands the turn over.
                    await turn.WaitForHandOffAsync(stoppingToken);
                    continue;
                }

                backoff = TimeSpan.FromMilliseconds(200);
                // A job id can appear twice in one batch (a re-dispatched entry): only the first entry runs it.
                var runs = new List<(DispatchedJob Entry, ClaimedJob? Claim)>(batch.Count);
                if (batch.Count > 0)
                {
                    // A reclaimed entry may be a run without a claim that died with its worker: claim it this time, so
                    // that a job which keeps killing workers counts attempts and is dead-lettered like any other.
                    var claims = await processor.ClaimAsync(batch, mayRunUnclaimed: !reclaimed, stoppingToken);
                    var started = new HashSet<Guid>();
                    runs.AddRange(batch.Select(e => (e, started.Add(e.Dispatch.JobId) ? claims.GetValueOrDefault(e.Dispatch.JobId) : null)));
                    // The claim decided who runs each job; the Postgres lease records it from here on. Until this ack
                    // the entries are pending, so a worker dying between the read and the claim loses none of them.
                    // The entry of a run without a claim is the one record of that run: it is acked after the finish.
                    if (runs.Where(r => r.Claim is not { Leased: false }).Select(r => r.Entry).ToArray() is { Length: > 0 } settled)
                    {
                        await queue.AckAsync(settled);
                    }
                }

                List<(DispatchedJob Entry, Task<bool> Run)>? unclaimed = null;
                foreach (var (job, claim) in runs)
                {
                    await slots.WaitAsync(stoppingToken);
                    var callsOut = processor.CallsOut(claim);
                    var task = RunOneAsync(job, claim, callsOut, slots);
                    if (claim is { Leased: false })
                    {
                        (unclaimed ??= []).Add((job, task));
                    }

                    Track(inFlight, task);
                    if (callsOut)
                    {
                        // Go to the back of the thread pool's queue before starting the next job: the job just started
                        // queues its next steps there too (its provider connection opened, its request sent). Without
                        // this, a batch of 500 LLM jobs queued all of its starts first, and no request left until every
                        // job had started. Jobs that only compute skip it: theirs would only split the batch's writes.
                        await Task.Yield();
                    }
                }

                if (unclaimed is not null)
                {
                    Track(inFlight, AckWhenRunAsync(unclaimed));
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Redis or Postgres unavailable: keep the worker alive and retry with backoff.
                LogReadFailed(ex, backoff.TotalMilliseconds);
                await Task.Delay(backoff, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 5_000));
            }
        }

        await GiveUpTurnAsync();
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

    /// <summary>Stopping: another worker of this machine reads from now on, rather than after the turn lapses.</summary>
    private async Task GiveUpTurnAsync()
    {
        try
        {
            await turn.GiveUpAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            // Redis unavailable: the turn lapses on its own.
            LogGiveUpFailed(ex);
        }
    }

    /// <summary>Runs one job; true unless the run failed outside the workflow (its entry is then not settled).</summary>
    private async Task<bool> RunOneAsync(DispatchedJob job, ClaimedJob? claimed, bool callsOut, SemaphoreSlim slots)
    {
        if (callsOut)
        {
            Interlocked.Increment(ref _networkRuns);
        }

        try
        {
            await Task.Yield();
            await processor.ProcessAsync(job, claimed, _abortJobs.Token);
            return true;
        }
        catch (Exception ex)
        {
            LogJobCrashed(ex, job.Dispatch.JobId);
            return false;
        }
        finally
        {
            if (callsOut)
            {
                Interlocked.Decrement(ref _networkRuns);
            }

            slots.Release();
        }
    }

    /// <summary>
    /// Acknowledges the entries of a batch's runs without a claim once they ended, in one command. The entry of a run
    /// that failed outside the workflow (its finish could not be written) stays pending: a worker reclaims it after
    /// <see cref="WorkerOptions.LeaseDuration"/>, as it would a claimed job's after its lease, and claims it then.
    /// </summary>
    private async Task AckWhenRunAsync(List<(DispatchedJob Entry, Task<bool> Run)> runs)
    {
        await Task.WhenAll(runs.Select(r => r.Run));
        var settled = runs.Where(r => r.Run.Result).Select(r => r.Entry).ToArray();
        try
        {
            if (settled.Length > 0)
            {
                await queue.AckAsync(settled);
            }
        }
        catch (Exception ex)
        {
            // Redis unavailable: the entries stay pending and are reclaimed after the lease; their jobs are finished, so
            // that claim finds nothing to run.
            LogAckFailed(ex, settled.Length);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not give up the read turn on stopping; it lapses on its own")]
    private partial void LogGiveUpFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining {Count} in-flight job(s), waiting up to {Seconds} s")]
    private partial void LogDraining(int count, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker stopped: {WorkerId}")]
    private partial void LogStopped(string workerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Acknowledging {Count} finished run(s) without a claim failed; their entries are reclaimed after the lease")]
    private partial void LogAckFailed(Exception ex, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} crashed in the worker")]
    private partial void LogJobCrashed(Exception ex, Guid jobId);
}
