using System.Text.Json.Nodes;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage.Versions;
using Microsoft.EntityFrameworkCore;

namespace LlmWorkflow.Api.Jobs;

/// <summary>
/// Two jobs side by side per top-level step (<c>GET /api/v1/jobs/{id}/compare/{other}</c>): each step's latest record
/// in each job (status, model, tokens, cost, duration, output, whether it was reused) and where the outputs differ.
/// </summary>
public sealed class JobComparison(LlmWorkflowDbContext db, WorkflowVersions versions)
{
    /// <param name="jobId">Both jobs are ones the caller may see (checked by the endpoint).</param>
    public async Task<JobComparisonResponse> CompareAsync(Guid jobId, Guid otherId, CancellationToken cancellationToken)
    {
        var jobs = await db.Jobs.AsNoTracking().Where(j => j.Id == jobId || j.Id == otherId).ToListAsync(cancellationToken);
        var steps = await db.JobSteps.AsNoTracking()
            .Where(s => (s.JobId == jobId || s.JobId == otherId) && s.ParentStepId == null)
            .ToListAsync(cancellationToken);
        var job = jobs.First(j => j.Id == jobId);
        var other = jobs.First(j => j.Id == otherId);
        var mine = Latest(job, steps);
        var theirs = Latest(other, steps);

        var order = (await StepOrderAsync(job, cancellationToken))
            .Concat(mine.Values.Concat(theirs.Values).OrderBy(s => s.StartedAt).Select(s => s.StepId))
            .Distinct(StringComparer.Ordinal);
        var compared = order.Select(stepId =>
        {
            var a = mine.GetValueOrDefault(stepId);
            var b = theirs.GetValueOrDefault(stepId);
            var (outA, outB) = (ToNode(a?.Output), ToNode(b?.Output));
            var differences = Differences(outA, outB);
            return new StepComparison(stepId, a?.DisplayName ?? b?.DisplayName, Side(job, a, outA), Side(other, b, outB), differences.Count == 0, differences);
        }).ToList();
        return new JobComparisonResponse(Summary(job), Summary(other), compared);
    }

    /// <summary>The top-level step ids of the job's version (or the current definition), in order.</summary>
    private async Task<IEnumerable<string>> StepOrderAsync(WorkflowJob job, CancellationToken cancellationToken)
    {
        var version = job.DefinitionHash is { } hash
            ? await versions.FindAsync(job.WorkflowName, hash, cancellationToken)
            : versions.Current(job.WorkflowName);
        return version?.Definition.Steps.Select(s => s.Id) ?? [];
    }

    /// <summary>Each top-level step's newest record in the job (its latest attempt's, or the checkpoint that attempt reused).</summary>
    private static Dictionary<string, JobStep> Latest(WorkflowJob job, List<JobStep> steps) =>
        steps.Where(s => s.JobId == job.Id)
            .GroupBy(s => s.StepId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(s => s.JobAttempt).ThenByDescending(s => s.CreatedAt).First(), StringComparer.Ordinal);

    private static StepSide? Side(WorkflowJob job, JobStep? step, JsonNode? output)
    {
        if (step is null)
        {
            return null;
        }

        var copied = step.ReusedFromJobId is not null;
        var reused = copied || (step.IsCheckpoint && step.JobAttempt < job.Attempt);
        return new StepSide(step.Status, step.Model, copied ? 0 : step.InputTokens, copied ? 0 : step.OutputTokens,
            copied ? 0m : step.CostUsd, step.DurationMs, reused, output);
    }

    private static JobComparisonSide Summary(WorkflowJob job) => new(
        job.Id, job.Status.ToWire(), job.WorkflowName, job.DefinitionHash,
        JsonNode.Parse(job.InputData.RootElement.GetRawText()) as JsonObject ?? [],
        job.TotalTokens, job.CostUsd, job.DurationMs,
        ToNode(job.ResultData)?["output"]?.DeepClone(), job.ForkedFromJobId);

    /// <summary>Top-level keys whose values differ when both outputs are objects; otherwise "$" when they differ at all.</summary>
    internal static IReadOnlyList<string> Differences(JsonNode? a, JsonNode? b)
    {
        if (JsonNode.DeepEquals(a, b))
        {
            return [];
        }

        if (a is JsonObject objectA && b is JsonObject objectB)
        {
            return [.. objectA.Select(p => p.Key).Union(objectB.Select(p => p.Key), StringComparer.Ordinal)
                .Where(key => !JsonNode.DeepEquals(objectA[key], objectB[key]))];
        }

        return ["$"];
    }

    private static JsonNode? ToNode(System.Text.Json.JsonDocument? document) =>
        document is null ? null : JsonNode.Parse(document.RootElement.GetRawText());
}
