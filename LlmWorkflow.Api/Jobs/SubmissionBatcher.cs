using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Jobs;

/// <summary>
/// Group commit for submissions: concurrent requests' jobs go to Postgres as one multi-row INSERT and to Redis as one
/// pipelined XADD per batch. There is no timer: a request that finds nothing in flight is sent at once (a lone
/// request pays no extra latency); requests that arrive while a batch is in flight wait for it and go together in the
/// next one, so batches grow exactly when the database is the bottleneck.
/// </summary>
public sealed partial class SubmissionBatcher(
    JobLifecycleStore store, JobQueue queue, TenantConcurrency limits, IOptions<QueueOptions> queueOptions, ILogger<SubmissionBatcher> logger)
{
    public const int MaxBatch = 256;

    private readonly Lock _gate = new();
    private readonly List<Pending> _waiting = [];
    private bool _flushing;

    /// <summary>
    /// Inserts the job (status queued) and dispatches it. False when the row was not inserted because another job
    /// holds its unique key (two requests with one idempotency key raced). A dispatch that fails, or that Redis has not
    /// taken within <see cref="QueueOptions.SubmitDispatchTimeout"/> (a stalled Redis), is logged and left to the
    /// reconciler: the job is stored, so it is not lost, and the caller is not kept waiting.
    /// </summary>
    public Task<bool> InsertAndDispatchAsync(WorkflowJob job, JobDispatch dispatch, CancellationToken cancellationToken)
    {
        var pending = new Pending(job, dispatch, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool lead;
        lock (_gate)
        {
            _waiting.Add(pending);
            lead = !_flushing;
            _flushing = true;
        }

        if (lead)
        {
            _ = FlushWhileWaitingAsync();
        }

        return pending.Completion.Task.WaitAsync(cancellationToken);
    }

    private async Task FlushWhileWaitingAsync()
    {
        while (true)
        {
            Pending[] batch;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _flushing = false;
                    return;
                }

                var count = Math.Min(_waiting.Count, MaxBatch);
                batch = _waiting.GetRange(0, count).ToArray();
                _waiting.RemoveRange(0, count);
            }

            try
            {
                await FlushAsync(batch);
            }
            catch (Exception ex)
            {
                await BatchFailedAsync(batch, ex);
            }
        }
    }

    private async Task FlushAsync(Pending[] batch)
    {
        // A capped tenant's (or a concurrency key's) job past its limit waits for a slot from the start: no stream entry,
        // so another tenant's job is never queued behind that backlog; a release of the tenant's (key's) slot queues it.
        var (inserted, waitingForSlot) = await store.SubmitAsync([.. batch.Select(p => p.Job)], CancellationToken.None, limits);
        if (waitingForSlot.Count > 0)
        {
            TenantConcurrency.SlotWaits.Add(waitingForSlot.Count, new KeyValuePair<string, object?>("at", "submit"));
        }

        var dispatches = batch.Where(p => inserted.Contains(p.Job.Id) && p.Job.RunAt is null && !waitingForSlot.Contains(p.Job.Id))
            .Select(p => p.Dispatch).ToArray();
        // A job's start_by (ttl_seconds) is a due time of the same waker as its run_at (Scheduling's expiry).
        if (batch.Where(p => inserted.Contains(p.Job.Id)).Select(p => p.Job.RunAt ?? p.Job.StartBy).Min() is { } earliestDue)
        {
            await AnnounceDueAsync(earliestDue);
        }

        try
        {
            await queue.EnqueueManyAsync(dispatches, CancellationToken.None).WaitAsync(queueOptions.Value.SubmitDispatchTimeout);
        }
        catch (Exception ex)
        {
            LogDispatchFailed(ex, dispatches.Length);
            await store.ClearDispatchMarksAsync([.. dispatches.Select(d => d.JobId)]);
        }

        foreach (var pending in batch)
        {
            pending.Completion.TrySetResult(inserted.Contains(pending.Job.Id));
        }
    }

    private sealed record Pending(WorkflowJob Job, JobDispatch Dispatch, TaskCompletionSource<bool> Completion);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} stored job(s) could not be dispatched; the reconciler will dispatch them")]
    private partial void LogDispatchFailed(Exception ex, int count);
}
