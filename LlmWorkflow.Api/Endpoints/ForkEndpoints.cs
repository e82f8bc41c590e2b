using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage.Versions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>Forks, comparisons and the pinned workflow versions jobs ran.</summary>
internal static class ForkEndpoints
{
    public static RouteGroupBuilder MapForkEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/jobs/{jobId:guid}/fork", ForkAsync)
            .WithName("ForkJob")
            .WithSummary("Fork a finished job from a step, with overrides")
            .WithDescription("Body: from_step (a top-level step id) and overrides (\"steps.<id>.model\", \"steps.<id>.prompt\", \"steps.<id>.temperature\", \"input_data\"). " +
                             "202 with the new job's id: a job of the same tenant that reuses the source's checkpointed outputs of the steps before from_step " +
                             "(their calls are not made again, $0) and runs from_step and the steps after it with the overrides applied to a copy of the source's " +
                             "pinned workflow version (a new version). The fork carries forked_from {job_id, step}; the source lists it in forks. " +
                             "input_data may change only when from_step is the first step. 400 naming the field (from_step, or overrides[\"steps.x.model\"]) " +
                             "for an unknown step or field, a wrong type, a model of a provider the service does not know (or has no key for) or a step " +
                             "before from_step; 409 when the source is not completed, failed or cancelled. " +
                             JobEndpoints.JobProblemDescription);
        api.MapGet("/jobs/{jobId:guid}/compare/{otherId:guid}", CompareAsync)
            .WithName("CompareJobs")
            .WithSummary("Two jobs side by side per top-level step")
            .WithDescription("Per top-level step: each job's status, model, tokens, cost, duration, output, whether the step was reused, and where " +
                             "the outputs differ. Both jobs must be the caller's; otherwise 404.");
        return api;
    }

    public static RouteGroupBuilder MapWorkflowVersionEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/workflows/{name}/versions", VersionsAsync)
            .WithName("ListWorkflowVersions")
            .WithSummary("The versions of a workflow that the caller's jobs ran, with job counts")
            .WithDescription("Each version is the SHA-256 of the workflow's definition, prompt files and price rows as a job was submitted with them " +
                             "(jobs keep running that version after the files change). Counts and first/last use are over the caller's tenant's jobs (its user's, for a key bound to a user or with X-User-Id); " +
                             "current marks the catalog's version now. 404 for a workflow neither in the catalog nor run by the caller.");
        api.MapGet("/workflows/{name}/versions/{hash}", VersionAsync)
            .WithName("GetWorkflowVersion")
            .WithSummary("One pinned version of a workflow (definition, prompt files, prices) and its differences to the current version")
            .WithDescription("hash: the 64-hex definition_hash a job status shows. The differences are per step (with the fields that differ), " +
                             "workflow field, prompt file and price row, from this version to the current one. 404 unless it is the current version " +
                             "or one of the caller's jobs ran it.");
        return api;
    }

    private static async Task<Results<Ok<WorkflowVersionDetail>, NotFoundProblem>> VersionAsync(
        string name,
        string hash,
        WorkflowVersions versions,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        var scope = CallerScope.From(http);
        var current = versions.Current(name);
        var visible = hash == current?.Hash || (!scope.Contradictory && hash.Length == 64 && hash.All(char.IsAsciiHexDigitLower)
            && (await versions.UsageAsync(name, scope.TenantFilter, scope.IsAdmin ? null : scope.UserId, cancellationToken)).Any(u => u.Hash == hash));
        if (!visible || await versions.FindAsync(name, hash, cancellationToken) is not { } version || version.WorkflowName != name)
        {
            return new NotFoundProblem(new ProblemDetails { Title = "Workflow version not found", Detail = $"No version {hash} of workflow '{name}' that you can see.", Status = 404 });
        }

        return TypedResults.Ok(new WorkflowVersionDetail(version.Hash, version.ShortHash, name, version.Hash == current?.Hash, current?.Hash,
            version.DefinitionJson, version.Prompts, version.Prices,
            current is null || current.Hash == version.Hash ? [] : VersionDiff.Between(version, current)));
    }

    private static async Task<Results<Accepted<ForkAcceptedResponse>, JobProblemResult, Conflict<JobActionResponse>, Microsoft.AspNetCore.Http.HttpResults.ValidationProblem>> ForkAsync(
        Guid jobId,
        [FromBody] ForkJobRequest? request,
        LlmWorkflowDbContext db,
        JobForks forks,
        DeletedJobs deletedJobs,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (await JobEndpoints.VisibleAsync(db, jobId, http, cancellationToken) is not true and var visible)
        {
            return await JobEndpoints.MissingAsync(jobId, visible is null, deletedJobs, http, cancellationToken);
        }

        var result = await forks.ForkAsync(jobId, request?.FromStep, request?.Overrides, cancellationToken);
        return result.Outcome switch
        {
            ForkOutcome.Created => TypedResults.Accepted(JobMapping.StatusUrl(result.JobId!.Value), new ForkAcceptedResponse(
                result.JobId.Value, "queued", jobId, request!.FromStep!, result.DefinitionHash!, JobMapping.StatusUrl(result.JobId.Value))),
            ForkOutcome.NotFinished => TypedResults.Conflict(new JobActionResponse(jobId, "not_finished",
                "Only a completed, failed or cancelled job can be forked; this one is still scheduled, waiting or running.")),
            ForkOutcome.WorkflowGone => TypedResults.Conflict(new JobActionResponse(jobId, "workflow_unavailable",
                "The job's workflow version is neither in the catalog nor stored, so it cannot be forked.")),
            _ => SubmissionProblem.ToResult(result.Problems!),
        };
    }

    private static async Task<Results<Ok<JobComparisonResponse>, JobProblemResult>> CompareAsync(
        Guid jobId,
        Guid otherId,
        LlmWorkflowDbContext db,
        JobComparison comparison,
        DeletedJobs deletedJobs,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        foreach (var id in new[] { jobId, otherId })
        {
            if (await JobEndpoints.VisibleAsync(db, id, http, cancellationToken) is not true and var visible)
            {
                return await JobEndpoints.MissingAsync(id, visible is null, deletedJobs, http, cancellationToken);
            }
        }

        return TypedResults.Ok(await comparison.CompareAsync(jobId, otherId, cancellationToken));
    }

    private static async Task<Results<Ok<WorkflowVersionsResponse>, NotFoundProblem>> VersionsAsync(
        string name,
        WorkflowCatalog catalog,
        WorkflowVersions versions,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        var scope = CallerScope.From(http);
        // Counted over the jobs the caller may see: its tenant's, narrowed to its user's when the key or X-User-Id names one.
        var usage = scope.Contradictory ? [] : await versions.UsageAsync(name, scope.TenantFilter, scope.IsAdmin ? null : scope.UserId, cancellationToken);
        var current = versions.Current(name);
        if (current is null && usage.Count == 0)
        {
            return NotFoundProblems.Workflow(name);
        }

        var list = usage.Select(u => new WorkflowVersionSummary(u.Hash, u.Hash[..12], u.Hash == current?.Hash, u.FirstSeenAt, u.JobCount, u.FirstUsedAt, u.LastUsedAt)).ToList();
        if (current is not null && list.All(v => !v.Current))
        {
            list.Insert(0, new WorkflowVersionSummary(current.Hash, current.ShortHash, true, null, 0, null, null));
        }

        return TypedResults.Ok(new WorkflowVersionsResponse(name, current?.Hash, list));
    }
}
