using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// Pause and resume of a workflow, for operators. A paused workflow's new jobs are accepted and held as scheduled
/// (the Submit statement decides, so no replica's view can let one through), its queued jobs are held at the pause,
/// and the workers' due-job wakers skip its due jobs; running jobs finish. A resume removes the pause and announces
/// the held jobs as due now, so the wakers queue them at once. No side mechanism: held jobs are scheduled jobs.
/// </summary>
public sealed partial class WorkflowPauses(JobLifecycleStore store, JobQueue queue, TimeProvider time, ILogger<WorkflowPauses> logger)
{
    /// <summary>How stale the submit path's view of the paused workflows may be (it only sets the 202's status).</summary>
    public static readonly TimeSpan ViewTimeToLive = TimeSpan.FromSeconds(1);

    private readonly Lock _rereadGate = new();
    private volatile PauseView _view = new([], DateTimeOffset.MinValue);
    private Task<PauseView>? _reread;

    public async Task<(DateTimeOffset PausedAt, int Held)> PauseAsync(string workflowName, string? pausedBy, string? reason, CancellationToken cancellationToken)
    {
        var paused = await store.PauseWorkflowAsync(workflowName, pausedBy, reason, cancellationToken);
        _view = new PauseView([.. _view.Names, workflowName], time.GetUtcNow());
        return paused;
    }

    /// <summary>False when the workflow was not paused.</summary>
    public async Task<bool> ResumeAsync(string workflowName, CancellationToken cancellationToken)
    {
        var resumed = await store.ResumeWorkflowAsync(workflowName, cancellationToken);
        _view = new PauseView([.. _view.Names.Where(n => n != workflowName)], time.GetUtcNow());
        try
        {
            // Its held jobs are due (their run_at passed): the wakers wake them now rather than at their next reread.
            await queue.AnnounceDueAsync(time.GetUtcNow());
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogAnnounceFailed(ex, workflowName);
        }

        return resumed;
    }

    public Task<IReadOnlyList<WorkflowPause>> ListAsync(CancellationToken cancellationToken) => store.ListPausesAsync(cancellationToken);

    /// <summary>Whether the workflow is paused, as of at most <see cref="ViewTimeToLive"/> ago (one query a second at most).</summary>
    public async Task<bool> IsPausedAsync(string workflowName, CancellationToken cancellationToken)
    {
        var view = _view;
        if (time.GetUtcNow() - view.ReadAt > ViewTimeToLive)
        {
            view = await RereadViewAsync().WaitAsync(cancellationToken);
        }

        return view.Names.Contains(workflowName);
    }

    // One reread at a time: the concurrent submissions that find the view stale together share it (each used to
    // send its own: about 60 rereads per 3,000 jobs at S2's concurrency).
    private Task<PauseView> RereadViewAsync()
    {
        lock (_rereadGate)
        {
            if (_reread is { IsCompleted: false } running)
            {
                return running;
            }

            // A caller that found the view stale just before a reread ended takes that reread's view.
            var view = _view;
            return time.GetUtcNow() - view.ReadAt <= ViewTimeToLive ? Task.FromResult(view) : _reread = ReadViewAsync();
        }
    }

    private async Task<PauseView> ReadViewAsync()
    {
        var names = await store.PausedWorkflowNamesAsync(CancellationToken.None);
        return _view = new PauseView([.. names], time.GetUtcNow());
    }

    private sealed record PauseView(HashSet<string> Names, DateTimeOffset ReadAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Workflow {Workflow} resumed, but its held jobs could not be announced; the wakers queue them at their next reread")]
    private partial void LogAnnounceFailed(Exception ex, string workflow);
}
