using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using LlmWorkflow.Api.Jobs;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>Submission and status routes of the v1 contract.</summary>
internal static partial class JobEndpoints
{
    public static RouteGroupBuilder MapJobEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/workflow", SubmitAsync)
            .WithName("SubmitWorkflow")
            .WithSummary("Submit a workflow run")
            .WithDescription("Validates the workflow name and input against the workflow's input_schema, stores the job and queues it. " +
                             "Returns 202 with the job id at once. A repeated Idempotency-Key (same tenant and user) with the same body gets the " +
                             "original answer again: 202 with the same body (created_at, status and estimated_wait_seconds as first answered), " +
                             "whatever the job's status is now; the same key with a different body is a 422 problem (error idempotency_key_conflict).");
        api.MapPost("/jobs", SubmitAsync)
            .WithName("SubmitJob")
            .WithSummary("Submit a workflow run (alias of POST /api/v1/workflow)");

        // Status and list (JobEndpoints.Status.cs), then the commands (JobEndpoints.Commands.cs).
        MapReadRoutes(api);
        MapCommandRoutes(api);
        return api;
    }

    private static async Task<Results<Accepted<JobAcceptedResponse>, ValidationProblem, UnprocessableProblem>> SubmitAsync(
        SubmitWorkflowRequest request,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        JobSubmitter submitter,
        TimeProvider time,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.WorkflowName))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["workflow_name"] = ["workflow_name is required."] });
        }

        var headerUser = http.Request.Headers[CallerScope.UserHeader].FirstOrDefault();
        if (!string.IsNullOrEmpty(headerUser) && request.UserId is { Length: > 0 } bodyUser && bodyUser != headerUser && CallerScope.BoundUser(http) is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["user_id"] = [$"user_id must match the {CallerScope.UserHeader} header when both are sent."] });
        }

        var (runAt, timingProblems) = RunAtInput.Resolve(request.RunAt, request.DelaySeconds, time.GetUtcNow());
        var (tier, tierProblems) = ServiceTierInput.Resolve(request.ServiceTier, request.Deadline, runAt, time.GetUtcNow());
        var (startBy, ttlProblems) = RunAtInput.ResolveStartBy(request.TtlSeconds, runAt, time.GetUtcNow());
        if (timingProblems.Count > 0 || tierProblems.Count > 0 || ttlProblems.Count > 0)
        {
            return SubmissionProblem.ToResult([.. timingProblems, .. tierProblems, .. ttlProblems]);
        }

        var activity = System.Diagnostics.Activity.Current;
        var scope = CallerScope.From(http);
        // A key bound to a user submits as that user whatever the request says.
        var userId = CallerScope.BoundUser(http) ?? (string.IsNullOrEmpty(headerUser) ? request.UserId : headerUser);
        var key = string.IsNullOrWhiteSpace(idempotencyKey) ? null : idempotencyKey;
        var submission = new JobSubmission
        {
            WorkflowName = request.WorkflowName,
            InputData = request.InputData ?? [],
            TenantId = scope.TenantId,
            UserId = userId,
            Username = request.Username,
            Action = request.Action,
            WebhookUrl = request.WebhookUrl,
            WebhookSecret = request.WebhookSecret,
            WebhookEvents = request.WebhookEvents,
            Priority = request.Priority ?? 0,
            DebugMode = request.DebugMode ?? false,
            BudgetUsd = request.BudgetUsd,
            IdempotencyKey = key,
            // The request as it acts: with the user it runs as, so a bound key's ignored user_id changes nothing.
            RequestFingerprint = key is null ? null : IdempotentRequests.Fingerprint(request with { UserId = userId }),
            RunAt = runAt,
            TimeToLive = startBy is null ? null : TimeSpan.FromSeconds(request.TtlSeconds!.Value),
            ServiceTier = tier,
            TraceParent = activity?.Id,
            TraceState = activity?.TraceStateString,
        };

        var result = await submitter.SubmitAsync(submission, cancellationToken);
        if (result.KeyConflict)
        {
            return IdempotentRequests.Conflict(key!, "submission");
        }

        if (result.Accepted is not { } body)
        {
            return SubmissionProblem.ToResult(result.Problems);
        }

        // A repeated Idempotency-Key gets the first answer again: the same 202, body and Location, marked as a replay.
        if (!result.Created)
        {
            IdempotentRequests.MarkReplayed(http.Response);
        }

        return TypedResults.Accepted(body.StatusUrl, body);
    }
}
