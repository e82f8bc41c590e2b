using LlmWorkflow.Api.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Api.Webhooks;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>Admin-only webhook routes under <c>/api/v1/admin/webhooks</c>: delivery attempts, dead letters, replays.</summary>
internal static class WebhookEndpoints
{
    private const int MaxDeadLetters = 500;

    public static RouteGroupBuilder MapWebhookEndpoints(this RouteGroupBuilder webhooks)
    {
        webhooks.MapGet("/{jobId:guid}", ListAttemptsAsync)
            .WithName("ListWebhookAttempts")
            .WithSummary("Every webhook delivery attempt of a job, in order")
            .WithDescription("One row per attempt: event type and id (the webhook-id header, stable across retries), attempt number, " +
                             "state (pending, delivered, failed, dead_lettered, gone), HTTP status, truncated response body, error, " +
                             "duration and the time of the next attempt. Empty for jobs without a webhook_url.");
        webhooks.MapGet("/dead-letters", ListDeadLettersAsync)
            .WithName("ListWebhookDeadLetters")
            .WithSummary("Webhook events whose retries are exhausted, newest first")
            .WithDescription("The latest attempt of each dead-lettered event. limit: 1-500, default 50.");
        webhooks.MapPost("/{jobId:guid}/replay", ReplayAsync)
            .WithName("ReplayWebhook")
            .WithSummary("Send a job's latest webhook event again")
            .WithDescription("Schedules a new attempt (same webhook-id, next attempt number) due now, whatever the event's state. " +
                             "404 when the job has no webhook event; 409 when an attempt is already waiting. A failed replay is dead-lettered again.");
        webhooks.MapPost("/replay", ReplayDeadLettersAsync)
            .WithName("ReplayDeadLetteredWebhooks")
            .WithSummary("Send again every webhook event dead-lettered since a time")
            .WithDescription("since (ISO 8601, required): events whose last attempt was dead-lettered at or after it get a new attempt due now. " +
                             "Events a receiver answered with 410 Gone are not included.");
        return webhooks;
    }

    private static async Task<Ok<IReadOnlyList<WebhookAttemptView>>> ListAttemptsAsync(
        Guid jobId, WebhookAdmin admin, CancellationToken cancellationToken) =>
        TypedResults.Ok(await admin.ListAttemptsAsync(jobId, cancellationToken));

    private static async Task<Results<Ok<IReadOnlyList<WebhookAttemptView>>, ValidationProblem>> ListDeadLettersAsync(
        WebhookAdmin admin, int? limit, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxDeadLetters)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {MaxDeadLetters}."] });
        }

        return TypedResults.Ok(await admin.ListDeadLettersAsync(limit ?? 50, cancellationToken));
    }

    private static async Task<Results<Accepted<WebhookAttemptView>, NotFoundProblem, ConflictProblem>> ReplayAsync(
        Guid jobId, WebhookAdmin admin, CancellationToken cancellationToken)
    {
        var replay = await admin.ReplayAsync(jobId, cancellationToken);
        return replay.Outcome switch
        {
            WebhookReplayOutcome.Replayed => TypedResults.Accepted($"/api/v1/admin/webhooks/{jobId}", replay.Attempt),
            WebhookReplayOutcome.AlreadyPending => new ConflictProblem(new ProblemDetails
            {
                Title = "A delivery attempt is already waiting",
                Detail = $"Attempt {replay.Attempt?.AttemptNumber} of event {replay.Attempt?.EventId} is pending; it will be sent without a replay.",
                Status = StatusCodes.Status409Conflict,
            }),
            _ => new NotFoundProblem(new ProblemDetails
            {
                Title = "No webhook event to replay",
                Detail = $"Job {jobId} does not exist, has no webhook_url, or has not sent any webhook event yet.",
                Status = StatusCodes.Status404NotFound,
            }),
        };
    }

    private static async Task<Results<Ok<ReplayedResponse>, ValidationProblem>> ReplayDeadLettersAsync(
        WebhookAdmin admin, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        if (since is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["since"] = ["since is required (ISO 8601, e.g. 2026-11-21T00:00:00Z)."] });
        }

        if (since.Value.Year is < 2000 or > 9000)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["since"] = ["since must be between the years 2000 and 9000."] });
        }

        return TypedResults.Ok(new ReplayedResponse(await admin.ReplayDeadLettersAsync(since.Value, cancellationToken)));
    }
}

/// <summary>How many dead-lettered events got a new attempt.</summary>
internal sealed record ReplayedResponse(int Replayed);
