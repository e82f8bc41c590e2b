using System.Text.Json.Nodes;
using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage.Versions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Api.Jobs;

/// <summary>What happened to a fork request.</summary>
public enum ForkOutcome
{
    Created,

    /// <summary>The source is not completed, failed or cancelled.</summary>
    NotFinished,

    /// <summary>from_step or an override is invalid (see the problems).</summary>
    Invalid,

    /// <summary>The source's workflow version is neither in the catalog nor stored (a job from before pinning whose workflow was removed).</summary>
    WorkflowGone,
}

public sealed record ForkResult(ForkOutcome Outcome, Guid? JobId = null, string? DefinitionHash = null, IReadOnlyList<SubmissionProblem>? Problems = null);

/// <summary>
/// <c>POST /api/v1/jobs/{id}/fork</c>: a new job of the same tenant that reuses its finished source's checkpointed
/// outputs before <c>from_step</c> (at $0: their calls are not made again) and runs the rest with the overrides
/// applied to a copy of the source's pinned version, which becomes a version of its own. Linked both ways:
/// <c>forked_from</c> on the fork, <c>forks</c> on the source.
/// </summary>
public sealed class JobForks(
    LlmWorkflowDbContext db,
    JobLifecycleStore store,
    JobQueue queue,
    WorkflowVersions versions,
    TimeProvider time,
    LlmWorkflow.Engine.Llm.LlmProviderRegistry providers,
    ILogger<JobForks> logger)
{
    /// <param name="sourceId">A job the caller may see (checked by the endpoint).</param>
    public async Task<ForkResult> ForkAsync(Guid sourceId, string? fromStep, JsonObject? overrides, CancellationToken cancellationToken)
    {
        var source = await db.Jobs.AsNoTracking().Where(j => j.Id == sourceId)
            .Select(j => new { j.Status, j.WorkflowName, DefinitionHash = WorkflowJob.HashOf(j.DefinitionDigest, j.LegacyDefinitionHash), j.Priority }).FirstAsync(cancellationToken);
        if (!JobLifecycle.IsAllowed(JobTransition.Rerun, source.Status))
        {
            return new ForkResult(ForkOutcome.NotFinished);
        }

        // A job from before pinning forks from the current definition, the one it would run again.
        var version = source.DefinitionHash is { } hash
            ? await versions.FindAsync(source.WorkflowName, hash, cancellationToken)
            : versions.Current(source.WorkflowName);
        if (version is null)
        {
            return new ForkResult(ForkOutcome.WorkflowGone);
        }

        if (string.IsNullOrWhiteSpace(fromStep) || JobCommands.StepsFrom(version.Definition, fromStep) is not { } rerun)
        {
            return Invalid(new SubmissionProblem("from_step", string.IsNullOrWhiteSpace(fromStep)
                ? "from_step is required: the top-level step the fork runs from."
                : $"\"{fromStep}\" is not a top-level step of the job's workflow version ({string.Join(", ", version.Definition.Steps.Select(s => s.Id))})."));
        }

        var (parsed, problems) = ForkOverrides.Parse(overrides, version.Definition, fromStep, rerun, version.Definition.Steps[0].Id == fromStep,
            model => LlmWorkflow.Engine.Llm.ModelId.TryParse(model, out var id) ? providers.Problem(id) : null);
        if (parsed.InputData is { } input && version.Definition.InputSchema is { } schema)
        {
            problems.AddRange(InputSchemaValidator.Validate(schema, input).Select(p => new SubmissionProblem(
                string.IsNullOrEmpty(p.Path) || p.Path == "$" ? "overrides[\"input_data\"]" : $"overrides[\"input_data\"].{p.Path.TrimStart('$', '.')}", p.Message)));
        }

        if (problems.Count > 0)
        {
            return new ForkResult(ForkOutcome.Invalid, Problems: problems);
        }

        var forkVersion = parsed.ChangesDefinition ? versions.Derive(version, parsed.ApplyTo) : version;
        await versions.EnsureStoredAsync(forkVersion, cancellationToken);

        var now = time.GetUtcNow();
        var fork = new ForkInsert(Guid.CreateVersion7(now), sourceId, fromStep, forkVersion.Hash, rerun, parsed.InputData?.ToJsonString());
        if (!await store.ForkAsync(fork, now, cancellationToken))
        {
            return new ForkResult(ForkOutcome.NotFinished); // it was retried meanwhile
        }

        Telemetry.JobsSubmitted.Add(1, new KeyValuePair<string, object?>("workflow", source.WorkflowName));
        try
        {
            await queue.EnqueueAsync(new JobDispatch(fork.JobId, source.Priority), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Fork {JobId} could not be dispatched now; the reconciler will dispatch it", fork.JobId);
            await store.ClearDispatchMarksAsync([fork.JobId]);
        }

        return new ForkResult(ForkOutcome.Created, fork.JobId, forkVersion.Hash);
    }

    private static ForkResult Invalid(SubmissionProblem problem) => new(ForkOutcome.Invalid, Problems: [problem]);
}
