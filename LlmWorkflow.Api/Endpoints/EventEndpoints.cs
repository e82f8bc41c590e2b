using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Engine.Jobs;
using LlmWorkflow.Engine.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>
/// <c>GET /api/v1/jobs/{id}/events</c>: the job's live events as Server-Sent Events, read from its Redis event stream.
/// Every event carries the stream entry id as its SSE id, so a reconnecting client (EventSource does this itself)
/// resumes after <c>Last-Event-ID</c>. The response ends after the terminal event.
/// </summary>
internal static class EventEndpoints
{
    private static readonly TimeSpan ReadBlock = TimeSpan.FromSeconds(5);

    public static RouteGroupBuilder MapEventEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/jobs/{jobId:guid}/events", StreamAsync)
            .WithName("StreamJobEvents")
            .WithSummary("Live progress as Server-Sent Events")
            .WithDescription("Events: run_started, step_started, step_completed, llm_delta, llm_call_completed, run_completed, run_failed, cancelled. " +
                             "Resumable with the Last-Event-ID header (or ?last_event_id=); closed after the terminal event. " +
                             "EventSource cannot send headers, so browsers may pass the key as ?api_key=.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        return api;
    }

    private static async Task<Results<ServerSentEventsResult<string>, NotFound<ProblemDetails>, ValidationProblem>> StreamAsync(
        Guid jobId,
        [FromHeader(Name = "Last-Event-ID")] string? lastEventIdHeader,
        [FromQuery(Name = "last_event_id")] string? lastEventIdQuery,
        LlmWorkflowDbContext db,
        JobEventStream events,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        var after = lastEventIdHeader ?? lastEventIdQuery ?? "0";
        if (!IsStreamEntryId(after))
        {
            // Redis would refuse it mid-stream; say so up front.
            var field = lastEventIdHeader is not null ? "Last-Event-ID" : "last_event_id";
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                [field] = [$"{field} must be an event id this stream sent (<milliseconds>-<sequence>, e.g. 1732200000000-0) or 0."],
            });
        }

        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null || !CallerScope.From(http).CanSee(job))
        {
            return NotFoundProblems.Job(jobId);
        }

        return TypedResults.ServerSentEvents(ReadAsync(job, after, events, http.RequestServices, cancellationToken));
    }

    private static async IAsyncEnumerable<SseItem<string>> ReadAsync(
        WorkflowJob job,
        string after,
        JobEventStream events,
        IServiceProvider services,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var sawAny = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            var entries = await events.ReadAsync(job.Id, after, ReadBlock, cancellationToken);
            foreach (var entry in entries)
            {
                sawAny = true;
                after = entry.Id;
                var type = entry.Fields.GetValueOrDefault(JobEventStream.TypeField, "message");
                yield return new SseItem<string>(entry.Fields.GetValueOrDefault(JobEventStream.DataField, "{}"), type) { EventId = entry.Id };
                if (JobEventStream.TerminalTypes.Contains(type))
                {
                    yield break;
                }
            }

            if (entries.Count == 0 && !sawAny && await FinishedWithoutEventsAsync(job.Id, services, cancellationToken) is { } final)
            {
                // The live stream expired (or never existed); Postgres still knows how the job ended.
                yield return final;
                yield break;
            }
        }
    }

    /// <summary>A Redis stream entry id: <c>ms</c> or <c>ms-seq</c>, both unsigned 64-bit.</summary>
    private static bool IsStreamEntryId(string id)
    {
        var dash = id.IndexOf('-', StringComparison.Ordinal);
        var ms = dash < 0 ? id : id[..dash];
        return IsUInt64(ms) && (dash < 0 || IsUInt64(id[(dash + 1)..]));

        static bool IsUInt64(string text) =>
            text.Length is > 0 and <= 20 && text.All(char.IsAsciiDigit)
            && ulong.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _);
    }

    private static async Task<SseItem<string>?> FinishedWithoutEventsAsync(Guid jobId, IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LlmWorkflowDbContext>();
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null || !job.Status.IsTerminal())
        {
            return null;
        }

        var type = job.Status switch
        {
            JobStatus.Completed => "run_completed",
            JobStatus.Cancelled => "cancelled",
            _ => "run_failed",
        };
        var data = new JsonObject
        {
            ["type"] = type,
            ["job_id"] = job.Id.ToString(),
            ["timestamp"] = job.CompletedAt ?? job.UpdatedAt,
            ["status"] = job.Status.ToWire(),
            ["from_database"] = true,
        };
        return new SseItem<string>(data.ToJsonString(), type);
    }
}
