using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage.Redis;
using Microsoft.Extensions.Options;
using LlmWorkflow.Api.Jobs;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>
/// <c>GET /api/v1/jobs/{id}/events</c>: the job's live events as Server-Sent Events, read from its Redis event stream.
/// Every event carries the stream entry id as its SSE id, so a reconnecting client (EventSource does this itself)
/// resumes after <c>Last-Event-ID</c>. The response ends after the terminal event, and a request that resumes at or
/// past the terminal event gets 204 No Content — the status that makes EventSource stop reconnecting. Between reads
/// the request waits for the notice the writer publishes after each write, or at most <c>Queue:PollInterval</c>.
/// </summary>
internal static class EventEndpoints
{

    public static RouteGroupBuilder MapEventEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/jobs/{jobId:guid}/events", StreamAsync)
            .WithName("StreamJobEvents")
            .WithSummary("Live progress as Server-Sent Events")
            .WithDescription("Events: run_started, step_started, step_completed, llm_delta, llm_call_completed, run_waiting (the job parked at a sleep, a wait " +
                             "for a signal or an approval: step_id, kind, until, event; an approval's also prompt, decision_url, approve_url, " +
                             "reject_url and links_expire_at, the workflow.waiting webhook's links; the stream goes on when it resumes), " +
                             "agent_turn, agent_tool_call, agent_tool_result, agent_delta (an agent step with stream: true: step_id, step_key, turn, attempt, " +
                             "text, coalesced, every delta of a turn before its agent_turn; live only, never replayed), agent_turn_restarted (turn, attempt, " +
                             "discarded_chars: the turn's streamed text so far is void, its provider failed mid-stream and the fallback's deltas follow), " +
                             "run_completed, run_failed, cancelled. " +
                             "Every event has an id; resume with the Last-Event-ID header (or ?last_event_id=). The stream closes after the " +
                             "terminal event, and a request resuming at or after the terminal event answers 204 No Content, which ends " +
                             "EventSource's reconnects. EventSource cannot send headers, so browsers may pass the key as ?api_key=.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .Produces(StatusCodes.Status204NoContent);
        return api;
    }

    private static Task<Results<ServerSentEventsResult<string>, NoContent, NotFoundProblem, ValidationProblem>> StreamAsync(
        Guid jobId,
        [FromHeader(Name = "Last-Event-ID")] string? lastEventIdHeader,
        [FromQuery(Name = "last_event_id")] string? lastEventIdQuery,
        LlmWorkflowDbContext db,
        JobEventStream events,
        HttpContext http,
        CancellationToken cancellationToken) =>
        StreamJobAsync(jobId, lastEventIdHeader, lastEventIdQuery, db, events, http, static items => items, NotFoundProblems.Job, cancellationToken);

    /// <summary>
    /// The job's live events with resume, 204 after the end and the ending rebuilt from the database, passed through
    /// <paramref name="view"/>: another surface (document 004's <c>/generator/events/stream</c>) renames or drops events
    /// there and keeps the entry ids, so Last-Event-ID resumes work the same.
    /// </summary>
    internal static async Task<Results<ServerSentEventsResult<string>, NoContent, NotFoundProblem, ValidationProblem>> StreamJobAsync(
        Guid jobId,
        string? lastEventIdHeader,
        string? lastEventIdQuery,
        LlmWorkflowDbContext db,
        JobEventStream events,
        HttpContext http,
        Func<IAsyncEnumerable<SseItem<string>>, IAsyncEnumerable<SseItem<string>>> view,
        Func<Guid, NotFoundProblem> notFound,
        CancellationToken cancellationToken)
    {
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null || !CallerScope.From(http).CanSee(job))
        {
            return notFound(jobId);
        }

        var resumeFrom = string.IsNullOrEmpty(lastEventIdHeader) ? lastEventIdQuery : lastEventIdHeader;
        if (!string.IsNullOrEmpty(resumeFrom) && !StreamIds.TryParse(resumeFrom, out _))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["last_event_id"] = [$"'{resumeFrom}' is not an event id (ids look like 1732280000000-0); send the id of the last event received."],
            });
        }

        if (!string.IsNullOrEmpty(resumeFrom) && await ClientSawTheEndAsync(job, resumeFrom, events, cancellationToken))
        {
            return TypedResults.NoContent();
        }

        // An empty Last-Event-ID (or ?last_event_id=) means from the start, like none at all.
        return TypedResults.ServerSentEvents(view(ReadAsync(job, string.IsNullOrEmpty(resumeFrom) ? "0" : resumeFrom, events, http.RequestServices, cancellationToken)));
    }

    /// <summary>
    /// True when the client already has the terminal event: the live stream's last entry is terminal and not after
    /// <paramref name="lastEventId"/>; or the job is finished and the client holds an id past the stream's last entry
    /// (the ending rebuilt from the database); or the live stream is gone (expired) for a finished job — any resuming
    /// client was then served the ending already, live or rebuilt from the database.
    /// </summary>
    private static async Task<bool> ClientSawTheEndAsync(WorkflowJob job, string lastEventId, JobEventStream events, CancellationToken cancellationToken)
    {
        var last = await events.LastAsync(job.Id, cancellationToken);
        if (last is null)
        {
            return job.Status.IsTerminal();
        }

        var lastType = (string?)last.Value[JobEventStream.TypeField] ?? "message";
        var lastId = last.Value.Id.ToString();
        return JobEventStream.TerminalTypes.Contains(lastType)
            ? StreamIds.Compare(lastId, lastEventId) <= 0
            // A stream without its ending (the job finished while Redis was unreachable): only the ending rebuilt
            // from the database carries an id past the stream's last entry.
            : job.Status.IsTerminal() && StreamIds.Compare(lastEventId, lastId) > 0;
    }

    /// <summary>
    /// The worker writes a run's live events in the background, so they can reach Redis shortly after the job's row
    /// says it finished: for this long after the finish an empty stream means "not yet", not "expired".
    /// </summary>
    private static readonly TimeSpan LiveEventsGrace = TimeSpan.FromSeconds(2);

    private static async IAsyncEnumerable<SseItem<string>> ReadAsync(
        WorkflowJob job,
        string after,
        JobEventStream events,
        IServiceProvider services,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var poll = services.GetRequiredService<IOptions<QueueOptions>>().Value.PollInterval;
        var nextDatabaseCheck = DateTimeOffset.MinValue;
        await using var watch = await events.WatchAsync(job.Id);
        while (!cancellationToken.IsCancellationRequested)
        {
            // Taken before the read, so a write made while the read runs still wakes the wait below.
            var written = watch.Next();
            var entries = await events.ReadAsync(job.Id, after, cancellationToken);
            foreach (var entry in entries)
            {
                after = entry.Id.ToString();
                var type = (string?)entry[JobEventStream.TypeField] ?? "message";
                yield return new SseItem<string>((string?)entry[JobEventStream.DataField] ?? "{}", type) { EventId = after };
                if (JobEventStream.TerminalTypes.Contains(type))
                {
                    yield break;
                }
            }

            if (entries.Length == 0 && DateTimeOffset.UtcNow >= nextDatabaseCheck)
            {
                // A quiet stream (a long LLM call) asks the database at most once per grace period, not on every wake-up.
                nextDatabaseCheck = DateTimeOffset.UtcNow + LiveEventsGrace;
                var final = await FinishedWithoutEventsAsync(job.Id, after, services, cancellationToken);
                if (final is not null && DateTimeOffset.UtcNow - final.Value.FinishedAt < LiveEventsGrace)
                {
                    // Finished just now: its last events may still be on their way; look again when the grace ends.
                    nextDatabaseCheck = final.Value.FinishedAt + LiveEventsGrace;
                }
                else if (final is not null)
                {
                    // The live stream holds no ending: it expired, never existed, or lost its last events (the job
                    // finished while Redis was unreachable). Postgres still knows how the job ended, so every reader
                    // gets the end.
                    yield return final.Value.Event;
                    yield break;
                }
            }

            if (entries.Length == 0)
            {
                await written.WaitAsync(poll, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>
    /// The terminal event rebuilt from the job row, with the same fields as the live one and an id derived from the
    /// completion time (a stream-style id, and past <paramref name="lastSentId"/>), so a reconnect after it is
    /// recognised and answered 204.
    /// </summary>
    private static async Task<(SseItem<string> Event, DateTimeOffset FinishedAt)?> FinishedWithoutEventsAsync(
        Guid jobId, string lastSentId, IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LlmWorkflowDbContext>();
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null || !job.Status.IsTerminal())
        {
            return null;
        }

        var finishedAt = job.CompletedAt ?? job.UpdatedAt;
        var id = job.Id.ToString();
        var status = job.Status.ToWire();
        var error = job.ErrorData is { } stored ? JsonNode.Parse(stored.RootElement.GetRawText()) : null;
        LiveJobEvent final = job.Status switch
        {
            JobStatus.Completed => new RunCompletedEvent(id, finishedAt, job.CostUsd, job.TotalTokens, status, FromDatabase: true),
            JobStatus.Cancelled => new JobCancelledEvent(id, finishedAt, status, job.CostUsd, job.TotalTokens, FromDatabase: true,
                error, Cancelled: error is null ? null : true),
            _ => new RunFailedEvent(id, finishedAt, error, Cancelled: false, status, job.CostUsd, job.TotalTokens, FromDatabase: true),
        };
        var data = JsonSerializer.Serialize(final, WireJsonContext.Default.LiveJobEvent);
        // After every id the reader was sent, so a reconnect with it is recognised as past the stream's end.
        var eventId = $"{finishedAt.ToUnixTimeMilliseconds()}-0";
        if (StreamIds.Compare(eventId, lastSentId) <= 0)
        {
            eventId = StreamIds.Next(lastSentId);
        }

        return (new SseItem<string>(data, final.Type) { EventId = eventId }, finishedAt);
    }
}
