using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Jobs;
using AwaitedEvents = LlmWorkflow.Engine.Steps.AwaitedEvents;
using StepModule = LlmWorkflow.Engine.Steps.StepModule;
using WorkflowValidator = LlmWorkflow.Engine.Definitions.WorkflowValidator;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage.Versions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>
/// Signals: <c>POST /api/v1/jobs/{id}/signals/{event}</c> puts a JSON body in the job's inbox and, when the job waits
/// for that event (a <c>wait_for_event</c> step), queues it at once; a signal sent before the job reaches its wait is
/// kept for it. <c>GET /api/v1/jobs/{id}/signals</c> lists the inbox.
/// </summary>
internal static class SignalEndpoints
{
    /// <summary>The largest signal body: 64 KiB.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    public static RouteGroupBuilder MapSignalEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/jobs/{jobId:guid}/signals/{event}", SendAsync)
            .WithName("SendSignal")
            .WithSummary("Send a signal (any JSON body, at most 64 KiB) to a job")
            .WithDescription("The body becomes the output of the job's wait_for_event step for that event. 202 with status \"resumed\" when the " +
                             "job was waiting for it (it is queued at once), \"stored\" when it is kept in the job's inbox for a wait still to " +
                             "come; 200 with status \"duplicate\" for an Idempotency-Key already used for this job and event with the same body " +
                             "(nothing added, nothing resumed again), also after the job has finished. 422 problem naming the Idempotency-Key header " +
                             "(error idempotency_key_conflict) when that key was used with a different body; 422 problem naming event (error " +
                             "event_not_awaited) for an event no step of the job's workflow version waits for (a wait_for_event or approval step, an " +
                             "agent step's tool needing approval: the step types answer which; the problem lists them in awaited_events). 409 for a finished job, 413 over 64 KiB, 400 for an event name that is not 1-100 of " +
                             "letters, digits, '_', '-', '.', ':' or a body that is not JSON; 404 for an unknown job or another tenant's.")
            .Accepts<JsonNode>("application/json")
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapGet("/jobs/{jobId:guid}/signals", ListAsync)
            .WithName("ListSignals")
            .WithSummary("The job's signal inbox, oldest first: which were taken by which step, which still wait for one")
            .WithDescription("superseded_at is set on a signal whose step a rerun (POST /api/v1/jobs/{id}/retry with from_step) ran again: it " +
                             "stays listed but is never taken again.");
        return api;
    }

    private static async Task<Results<Accepted<SignalResponse>, Ok<SignalResponse>, JobProblemResult, Conflict<JobActionResponse>, ValidationProblem, ProblemHttpResult>> SendAsync(
        Guid jobId,
        [FromRoute(Name = "event")] string eventName,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        LlmWorkflowDbContext db,
        JobLifecycleStore store,
        JobQueue queue,
        DeletedJobs deletedJobs,
        WorkflowVersions versions,
        IEnumerable<StepModule> modules,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (!WorkflowValidator.EventNamePattern().IsMatch(eventName))
        {
            return Invalid("event", "The event name must be 1-100 letters, digits, '_', '-', '.' or ':'.");
        }

        if (idempotencyKey is { Length: > 255 })
        {
            return Invalid("Idempotency-Key", "Idempotency-Key must be at most 255 characters.");
        }

        var (body, tooLarge) = http.Request.ContentLength > MaxBodyBytes ? ("", true) : await ReadBodyAsync(http.Request, cancellationToken);
        if (tooLarge)
        {
            return TypedResults.Problem(title: "Payload too large", detail: $"A signal's body is at most {MaxBodyBytes / 1024} KiB.", statusCode: StatusCodes.Status413PayloadTooLarge);
        }

        if (body.Length > 0 && !IsJson(body))
        {
            return Invalid("body", "The signal's body must be JSON (or empty).");
        }

        if (await JobEndpoints.VisibleAsync(db, jobId, http, cancellationToken) is not true and var visible)
        {
            return await JobEndpoints.MissingAsync(jobId, visible is null, deletedJobs, http, cancellationToken);
        }

        var key = string.IsNullOrWhiteSpace(idempotencyKey) ? null : idempotencyKey;
        var payload = body.Length == 0 ? null : body;
        var job = await db.Jobs.AsNoTracking().Where(j => j.Id == jobId).Select(j => new { j.Status, j.WorkflowName, DefinitionHash = WorkflowJob.HashOf(j.DefinitionDigest, j.LegacyDefinitionHash), j.WaitData }).FirstAsync(cancellationToken);
        if (job.Status.IsTerminal())
        {
            // A client retrying a request whose answer it lost (the API killed mid-request) gets the first answer's
            // duplicate, even when the signal it did deliver has since let the job finish.
            return key is not null && await store.FindSignalAsync(jobId, eventName, key, payload, cancellationToken) is { } first
                ? first.OtherBody ? KeyReused(key) : TypedResults.Ok(new SignalResponse(first.Id, jobId, eventName, "duplicate", first.ReceivedAt))
                : TypedResults.Conflict(new JobActionResponse(jobId, "finished", $"The job is {job.Status.ToWire()}; it waits for no signal."));
        }

        // A signal no step will ever take would sit in the inbox for good: refused, naming what the job does wait for. The
        // event the job waits for now is always taken, whatever parked it.
        if (!WaitsNowFor(job.WaitData, eventName)
            && await AwaitedEventsAsync(versions, modules, job.WorkflowName, job.DefinitionHash, cancellationToken) is { } awaited && !awaited.Contains(eventName))
        {
            return NotAwaited(eventName, job.WorkflowName, awaited);
        }

        var (added, resumed) = await DeliverAsync(store, queue, jobId, eventName, payload, key, cancellationToken);
        if (added.OtherBody)
        {
            return KeyReused(key!);
        }

        if (added.Duplicate)
        {
            return TypedResults.Ok(new SignalResponse(added.Id, jobId, eventName, "duplicate", added.ReceivedAt));
        }

        var answer = new SignalResponse(added.Id, jobId, eventName, resumed ? "resumed" : "stored", added.ReceivedAt);
        return TypedResults.Accepted(JobMapping.StatusUrl(jobId), answer);
    }

    /// <summary>
    /// Puts a signal in the job's inbox and, when the job waits for its event, queues it (the API's signals and decision
    /// links both come here). A duplicate (same idempotency key) adds nothing; it resumes the job only if the first
    /// signal's request was cut off before the job was queued.
    /// </summary>
    public static async Task<(AddedSignal Added, bool Resumed)> DeliverAsync(
        JobLifecycleStore store, JobQueue queue, Guid jobId, string eventName, string? bodyJson, string? idempotencyKey, CancellationToken cancellationToken)
    {
        var (added, resumed) = await store.AddSignalAsync(jobId, eventName, bodyJson, idempotencyKey, cancellationToken);
        if (resumed is not null)
        {
            try
            {
                await queue.EnqueueAsync(resumed, cancellationToken);
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                // Queued in PostgreSQL: the reconciler dispatches it.
                await store.ClearDispatchMarksAsync([jobId]);
            }
        }

        return (added, resumed is not null);
    }

    private static async Task<Results<Ok<SignalListResponse>, JobProblemResult>> ListAsync(
        Guid jobId, LlmWorkflowDbContext db, JobLifecycleStore store, DeletedJobs deletedJobs, HttpContext http, CancellationToken cancellationToken)
    {
        if (await JobEndpoints.VisibleAsync(db, jobId, http, cancellationToken) is not true and var visible)
        {
            return await JobEndpoints.MissingAsync(jobId, visible is null, deletedJobs, http, cancellationToken);
        }

        var signals = await store.ListSignalsAsync(jobId, cancellationToken);
        return TypedResults.Ok(new SignalListResponse(jobId,
            [.. signals.Select(s => new SignalSummary(s.Id, s.Event, s.ReceivedAt, s.IdempotencyKey, s.TakenByStep, s.TakenAt, s.SupersededAt))]));
    }

    private static ValidationProblem Invalid(string field, string message) => SubmissionProblem.ToResult([new SubmissionProblem(field, message)]);

    /// <summary>
    /// The events the steps of the job's workflow version can wait for, as the engine and the step modules this host
    /// runs answer it (<see cref="AwaitedEvents"/>); null when the version is not known here (nothing is refused then).
    /// </summary>
    private static async Task<IReadOnlySet<string>?> AwaitedEventsAsync(
        WorkflowVersions versions, IEnumerable<StepModule> modules, string workflowName, string? hash, CancellationToken cancellationToken)
    {
        var version = hash is not null ? await versions.FindAsync(workflowName, hash, cancellationToken) : versions.Current(workflowName);
        return version is null ? null : AwaitedEvents.Of(version.Definition, modules);
    }

    private static bool WaitsNowFor(JsonDocument? waitData, string eventName) =>
        waitData?.RootElement is { ValueKind: JsonValueKind.Object } wait && wait.TryGetProperty("event", out var waiting)
        && waiting.ValueKind == JsonValueKind.String && waiting.GetString() == eventName;

    private static ProblemHttpResult NotAwaited(string eventName, string workflowName, IReadOnlySet<string> awaited) => TypedResults.Problem(new ProblemDetails
    {
        Status = StatusCodes.Status422UnprocessableEntity,
        Title = "No step waits for this event",
        Detail = $"No step of workflow \"{workflowName}\" waits for the event \"{eventName}\", so no step would ever take " +
                 (awaited.Count == 0 ? "it: the workflow waits for no event." : $"it. It waits for: {string.Join(", ", awaited.Order(StringComparer.Ordinal))}."),
        Extensions =
        {
            ["error"] = "event_not_awaited",
            ["field"] = "event",
            ["awaited_events"] = awaited.Order(StringComparer.Ordinal).ToArray(),
        },
    });

    private static ProblemHttpResult KeyReused(string key)
    {
        var problem = IdempotentRequests.Conflict(key, "signal").Value;
        problem.Status = StatusCodes.Status422UnprocessableEntity;
        return TypedResults.Problem(problem);
    }

    /// <summary>The body as text, or (empty, true) once it passes <see cref="MaxBodyBytes"/> (a chunked body has no length to check first).</summary>
    private static async Task<(string Body, bool TooLarge)> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return ("", true);
            }

            buffer.Write(chunk, 0, read);
        }

        return (Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length), false);
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

/// <summary>The answer to a signal: which one it is and what it did (resumed, stored, duplicate).</summary>
public sealed record SignalResponse(Guid SignalId, Guid JobId, string Event, string Status, DateTimeOffset ReceivedAt);

/// <summary>A job's signal inbox.</summary>
public sealed record SignalListResponse(Guid JobId, IReadOnlyList<SignalSummary> Signals);

/// <summary>
/// One signal: when it came, which step took it (null while it waits for one), and when a rerun of that step superseded
/// it (null unless one did: the rerun's wait does not take it again).
/// </summary>
public sealed record SignalSummary(Guid SignalId, string Event, DateTimeOffset ReceivedAt, string? IdempotencyKey, string? TakenByStep, DateTimeOffset? TakenAt,
    DateTimeOffset? SupersededAt);
