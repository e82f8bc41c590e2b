using LlmWorkflow.Storage.Approvals;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>Starts the <see cref="JobRun"/> that owns a claimed job's writes in this worker.</summary>
internal sealed class JobRuns(JobRunStore runStore, LiveEventPublisher events, ApprovalLinks approvalLinks, IOptions<WorkerOptions> options, ILogger<JobProcessor> logger)
{
    private readonly string _workerId = options.Value.Id;

    /// <param name="deferStepRows">Whether step rows wait for the next write (no opt-in step webhook event needs them at once).</param>
    public JobRun Start(ClaimedJob claimed, CancellationToken abort, bool deferStepRows) =>
        new(runStore, events, claimed, _workerId, abort, deferStepRows: deferStepRows, logger: logger, approvalLinks: approvalLinks);
}
