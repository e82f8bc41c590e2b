using System.Diagnostics;
using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Versions;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>The definition a claimed job runs, with the prompt files and prices it runs with (null: the prompts folder, today's prices).</summary>
internal sealed record WorkflowToRun(WorkflowDefinition Workflow, PromptLibrary? Prompts, IPriceTable? Prices);

/// <summary>
/// Which definition a claimed job runs: its pinned version, else the catalog's current one; and the jobs that must not
/// run at all (started too often, or a workflow this worker cannot find), which are failed here.
/// </summary>
internal sealed class RunnableWorkflows(WorkflowCatalog catalog, WorkflowVersions versions, UnfinishedRuns unfinished, IOptions<WorkerOptions> options)
{
    private readonly WorkerOptions _options = options.Value;

    /// <summary>
    /// Whether the job's workflow waits on the network (an <c>llm</c> or <c>external_api</c> step anywhere in it), so
    /// that its start should get its request out before the next job starts (see <see cref="JobConsumerService"/>).
    /// </summary>
    public bool CallsOut(ClaimedJob? claimed) =>
        claimed is not null && catalog.TryGet(claimed.WorkflowName, out var workflow) && NetworkSteps.CallsOut(workflow);

    /// <summary>
    /// The job's workflow, or null when the job must not run: started too often (dead-lettered), or its workflow is
    /// neither in this worker's catalog nor stored as its pinned version; either way it is failed here. A pinned job
    /// runs its version even if the files changed since it was submitted; a job from before pinning (no hash) runs the
    /// catalog's current definition.
    /// </summary>
    public async Task<WorkflowToRun?> FindAsync(DispatchedJob dispatched, ClaimedJob claimed, JobRun run, Activity? activity)
    {
        if (claimed.Attempt > _options.MaxAttempts)
        {
            await unfinished.DeadLetterAsync(dispatched, claimed, run, activity);
            return null;
        }

        if (claimed.DefinitionHash is { } hash)
        {
            if (await versions.FindAsync(claimed.WorkflowName, hash, CancellationToken.None) is { } version)
            {
                activity?.SetTag("llmworkflow.definition_hash", version.ShortHash);
                return new WorkflowToRun(version.Definition, version.PromptLibrary(versions.PromptsRoot), versions.PricesOf(version));
            }
        }
        else if (catalog.TryGet(claimed.WorkflowName, out var workflow))
        {
            return new WorkflowToRun(workflow, null, null);
        }

        var missing = claimed.DefinitionHash is null
            ? $"Workflow '{claimed.WorkflowName}' is not in this worker's catalog."
            : $"Workflow '{claimed.WorkflowName}' version {claimed.DefinitionHash[..12]} is neither in this worker's catalog nor stored.";
        var unknown = WorkflowException.Config("unknown_workflow", missing).Error;
        await run.FinishAsync(new JobOutcome(JobStatus.Failed, null, unknown, 0, 0, 0m));
        activity.RecordFailure(unknown.Type, unknown.Message);
        return null;
    }
}
