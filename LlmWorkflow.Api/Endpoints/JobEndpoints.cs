using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Engine.Jobs;
using LlmWorkflow.Engine.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>Submission and status routes of the v1 contract.</summary>
internal static class JobEndpoints
{
    public static RouteGroupBuilder MapJobEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/workflow", SubmitAsync)
            .WithName("SubmitWorkflow")
            .WithSummary("Submit a workflow run")
            .WithDescription("Validates the workflow name and input against the workflow's input_schema, stores the job and queues it. " +
                             "Returns 202 with the job id at once; a repeated Idempotency-Key returns the original job with 200.");
        api.MapPost("/jobs", SubmitAsync)
            .WithName("SubmitJob")
            .WithSummary("Submit a workflow run (alias of POST /api/v1/workflow)");

        api.MapGet("/status/{jobId:guid}", GetStatusAsync)
            .WithName("GetJobStatus")
            .WithSummary("Status, progress, per-step records, result and cost data of a job");
        api.MapGet("/jobs/{jobId:guid}", GetStatusAsync)
            .WithName("GetJob")
            .WithSummary("Same as GET /api/v1/status/{job_id}");
        return api;
    }

    private static async Task<Results<Accepted<JobAcceptedResponse>, Ok<JobAcceptedResponse>, ValidationProblem>> SubmitAsync(
        SubmitWorkflowRequest request,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        JobSubmitter submitter,
        QueueWaitEstimator waitEstimator,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.WorkflowName))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["workflow_name"] = ["workflow_name is required."] });
        }

        var activity = System.Diagnostics.Activity.Current;
        var submission = new JobSubmission
        {
            WorkflowName = request.WorkflowName,
            InputData = request.InputData ?? [],
            UserId = request.UserId,
            Username = request.Username,
            Action = request.Action,
            WebhookUrl = request.WebhookUrl,
            WebhookSecret = request.WebhookSecret,
            WebhookEvents = request.WebhookEvents,
            Priority = request.Priority ?? 0,
            DebugMode = request.DebugMode ?? false,
            BudgetUsd = request.BudgetUsd,
            IdempotencyKey = string.IsNullOrWhiteSpace(idempotencyKey) ? null : idempotencyKey,
            TraceParent = activity?.Id,
            TraceState = activity?.TraceStateString,
        };

        var result = await submitter.SubmitAsync(submission, cancellationToken);
        if (result.Job is not { } job)
        {
            return TypedResults.ValidationProblem(
                result.Problems.GroupBy(p => p.Field).ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray()),
                detail: string.Join(" ", result.Problems.Select(p => $"{p.Field}: {p.Message}")));
        }

        var body = job.ToAccepted(await waitEstimator.EstimateSecondsAsync(job.Priority, cancellationToken));
        if (!result.Created)
        {
            return TypedResults.Ok(body);
        }

        http.Response.Headers.Location = body.StatusUrl;
        return TypedResults.Accepted(body.StatusUrl, body);
    }

    private static async Task<Results<Ok<JobStatusResponse>, NotFound<ProblemDetails>>> GetStatusAsync(
        Guid jobId,
        LlmWorkflowDbContext db,
        CancellationToken cancellationToken)
    {
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null)
        {
            return TypedResults.NotFound(new ProblemDetails { Title = "Job not found", Detail = $"No job with id {jobId}.", Status = 404 });
        }

        var steps = await db.JobSteps.AsNoTracking()
            .Where(s => s.JobId == jobId)
            .OrderBy(s => s.StartedAt).ThenBy(s => s.CreatedAt)
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(job.ToStatus(steps));
    }
}
