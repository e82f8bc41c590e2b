using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Api.Schedules;
using LlmWorkflow.Storage.Schedules;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>
/// Schedules: a workflow run started on every tick of a cron expression in a time zone. Tenant-scoped like jobs:
/// another tenant's (or, for a caller narrowed to a user, another user's) schedule answers 404 like a missing one.
/// </summary>
internal static class ScheduleEndpoints
{
    private const string Dst =
        "Daylight-saving time follows the zone's wall clock: a tick whose local time a spring-forward skips runs at the " +
        "transition's first valid instant; a tick whose local time a fall-back repeats runs once, while a schedule every " +
        "so many minutes or seconds keeps ticking through both repeated hours.";

    public static RouteGroupBuilder MapScheduleEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/schedules", CreateAsync)
            .WithName("CreateSchedule")
            .WithSummary("Create a schedule: a workflow run on every tick of a cron expression in a time zone")
            .WithDescription("201 with the schedule and its next five ticks (UTC and local). A repeated Idempotency-Key with the same " +
                             "body gets the original answer again (201, the same body); the same key with a different body is a 422 problem " +
                             "(error idempotency_key_conflict). 400 names each invalid field: workflow_name (unknown), cron (not 5 or 6 " +
                             "fields, invalid, or never ticking), timezone (not an IANA id), overlap, catch_up, input_data (not an " +
                             "object, or not matching the workflow's input_schema), priority, webhook_url (the webhook URL policy). " +
                             "Exactly one job starts per tick whatever the number of API and worker processes; a tick skipped " +
                             "(paused, overlap, missed) is recorded with its reason (GET …/ticks). overlap buffer_one (Temporal's " +
                             "BUFFER_ONE) records the first tick that comes while the previous job runs as buffered (buffered_tick_at) " +
                             "and starts its job as soon as that job ends; a further tick meanwhile is skipped (reason overlap). " + Dst);
        api.MapGet("/schedules", ListAsync)
            .WithName("ListSchedules")
            .WithSummary("List the caller's schedules, oldest first")
            .WithDescription("limit (1-200, default 50) and offset page them; only the caller key's tenant's schedules are listed " +
                             "(narrowed to the caller's user when one is named).");
        api.MapGet("/schedules/{scheduleId:guid}", GetAsync)
            .WithName("GetSchedule")
            .WithSummary("A schedule with its next five ticks in UTC and in its zone")
            .WithDescription("404 for an unknown schedule or another tenant's. " + Dst);
        api.MapPatch("/schedules/{scheduleId:guid}", UpdateAsync)
            .WithName("UpdateSchedule")
            .WithSummary("Pause, resume or change a schedule")
            .WithDescription("Only the fields sent change: paused (true pauses: ticks are recorded skipped with reason paused; false " +
                             "resumes), name, cron, timezone (either computes the next tick from now), input_data, priority, " +
                             "webhook_url, webhook_secret, overlap, catch_up. 200 with the schedule; 400 naming the field; 404 for " +
                             "an unknown schedule or another tenant's.");
        api.MapDelete("/schedules/{scheduleId:guid}", DeleteAsync)
            .WithName("DeleteSchedule")
            .WithSummary("Delete a schedule (its jobs stay, and keep its schedule_id)")
            .WithDescription("204; no tick runs after it. Jobs it already started are not cancelled. 404 for an unknown schedule or another tenant's.");
        api.MapPost("/schedules/{scheduleId:guid}/trigger", TriggerAsync)
            .WithName("TriggerSchedule")
            .WithSummary("Run a tick of the schedule now")
            .WithDescription("202 with the schedule: its next tick is now, so a ticker decides it within moments, as any tick " +
                             "(the overlap policy applies; GET …/ticks shows it started with its job_id, or skipped with the reason). " +
                             "The cron's upcoming ticks stay as they were. 409 when the schedule is paused (resume it first); " +
                             "404 for an unknown schedule or another tenant's.");
        api.MapPost("/schedules/{scheduleId:guid}/backfill", BackfillAsync)
            .WithName("BackfillSchedule")
            .WithSummary("Start the jobs of a past range's ticks that never started")
            .WithDescription("Body {from, to}: RFC 3339 times with an offset, from <= to, to not in the future, at most " +
                             "1000 ticks of the cron between them (inside the schedule's start_at/end_at). Each tick of the range " +
                             "that no tick or earlier backfill started gets one job now (action schedule.backfill; a tick recorded " +
                             "skipped becomes started); a repeat starts nothing twice. The overlap policy does not apply and a paused " +
                             "schedule may be backfilled. 200 with the ticks started and those already started; 400 naming the field; " +
                             "404 for an unknown schedule or another tenant's.");
        api.MapGet("/schedules/{scheduleId:guid}/ticks", ListTicksAsync)
            .WithName("ListScheduleTicks")
            .WithSummary("The schedule's decided ticks, newest first: started (with job_id), skipped (with the reason) or buffered")
            .WithDescription("limit 1-500, default 100. buffered: overlap buffer_one holds the tick until the previous job ends, " +
                             "then it is started with its job_id. Reasons: paused, overlap (the previous job had not finished, " +
                             "overlap skip or buffer_one with a tick already buffered), " +
                             "missed (the service was down at the tick's time and catch_up did not run it; ticks older than " +
                             "Schedules:CatchUpWindow are one row, tick_count says how many). 404 for an unknown schedule or another tenant's.");
        return api;
    }

    private static async Task<Results<Created<ScheduleResponse>, ValidationProblem, UnprocessableProblem>> CreateAsync(
        CreateScheduleRequest request,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        ScheduleCommands commands,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        var scope = CallerScope.From(http);
        var headerUser = http.Request.Headers[CallerScope.UserHeader].FirstOrDefault();
        var user = CallerScope.BoundUser(http) ?? (string.IsNullOrEmpty(headerUser) ? null : headerUser);
        var key = string.IsNullOrWhiteSpace(idempotencyKey) ? null : idempotencyKey;
        var fingerprint = key is null ? null : IdempotentRequests.Fingerprint(request);
        var result = await commands.CreateAsync(request, scope.TenantId, user, key, fingerprint, cancellationToken);
        if (result.KeyConflict)
        {
            return IdempotentRequests.Conflict(key!, "schedule");
        }

        if (result is not { Schedule: { } schedule, Answer: { } body })
        {
            return SubmissionProblem.ToResult(result.Problems);
        }

        // A repeated Idempotency-Key gets the first answer again: 201 with the same body, marked as a replay.
        if (!result.Created)
        {
            IdempotentRequests.MarkReplayed(http.Response);
        }

        return TypedResults.Created($"/api/v1/schedules/{schedule.Id}", body);
    }

    private static async Task<Results<Ok<ScheduleListResponse>, ValidationProblem>> ListAsync(
        int? limit, int? offset, ScheduleStore store, ScheduleCommands commands, HttpContext http, CancellationToken cancellationToken)
    {
        var problems = new List<SubmissionProblem>();
        if (limit is < 1 or > 200)
        {
            problems.Add(new("limit", "limit must be between 1 and 200."));
        }

        if (offset is < 0)
        {
            problems.Add(new("offset", "offset must be 0 or more."));
        }

        if (problems.Count > 0)
        {
            return SubmissionProblem.ToResult(problems);
        }

        var scope = CallerScope.From(http);
        var (page, total) = scope.Contradictory
            ? ([], 0)
            : await store.ListAsync(scope.TenantFilter, scope.IsAdmin ? null : scope.UserId, limit ?? 50, offset ?? 0, cancellationToken);
        return TypedResults.Ok(new ScheduleListResponse([.. page.Select(commands.ToResponse)], total, limit ?? 50, offset ?? 0));
    }

    private static async Task<Results<Ok<ScheduleResponse>, NotFoundProblem>> GetAsync(
        Guid scheduleId, ScheduleStore store, ScheduleCommands commands, HttpContext http, CancellationToken cancellationToken) =>
        await VisibleAsync(store, scheduleId, http, cancellationToken) is { } schedule
            ? TypedResults.Ok(commands.ToResponse(schedule))
            : NotFoundProblems.Schedule(scheduleId);

    private static async Task<Results<Ok<ScheduleResponse>, NotFoundProblem, ValidationProblem>> UpdateAsync(
        Guid scheduleId,
        [FromBody] UpdateScheduleRequest request,
        ScheduleStore store,
        ScheduleCommands commands,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (await VisibleAsync(store, scheduleId, http, cancellationToken) is not { } current)
        {
            return NotFoundProblems.Schedule(scheduleId);
        }

        var result = await commands.UpdateAsync(current, request, cancellationToken);
        if (result.Problems.Count > 0)
        {
            return SubmissionProblem.ToResult(result.Problems);
        }

        return result.Schedule is { } updated ? TypedResults.Ok(commands.ToResponse(updated)) : NotFoundProblems.Schedule(scheduleId);
    }

    private static async Task<Results<NoContent, NotFoundProblem>> DeleteAsync(
        Guid scheduleId, ScheduleStore store, HttpContext http, CancellationToken cancellationToken) =>
        await VisibleAsync(store, scheduleId, http, cancellationToken) is not null && await store.DeleteAsync(scheduleId, cancellationToken)
            ? TypedResults.NoContent()
            : NotFoundProblems.Schedule(scheduleId);

    private static async Task<Results<Accepted<ScheduleResponse>, NotFoundProblem, Conflict<ScheduleActionResponse>>> TriggerAsync(
        Guid scheduleId, ScheduleStore store, ScheduleCommands commands, HttpContext http, CancellationToken cancellationToken)
    {
        if (await VisibleAsync(store, scheduleId, http, cancellationToken) is not { } schedule)
        {
            return NotFoundProblems.Schedule(scheduleId);
        }

        return await commands.TriggerAsync(schedule, store, cancellationToken) is { } triggered
            ? TypedResults.Accepted($"/api/v1/schedules/{scheduleId}/ticks", commands.ToResponse(triggered))
            : TypedResults.Conflict(new ScheduleActionResponse(scheduleId, "paused", "The schedule is paused: resume it (PATCH paused false) to run a tick."));
    }

    private static async Task<Results<Ok<ScheduleBackfillResponse>, NotFoundProblem, ValidationProblem>> BackfillAsync(
        Guid scheduleId, BackfillScheduleRequest request, ScheduleStore store, ScheduleTickRunner runner, TimeProvider time, HttpContext http,
        CancellationToken cancellationToken)
    {
        if (await VisibleAsync(store, scheduleId, http, cancellationToken) is not { } schedule)
        {
            return NotFoundProblems.Schedule(scheduleId);
        }

        var (ticks, problems) = ScheduleBackfillInput.Ticks(schedule, request.From, request.To, time.GetUtcNow());
        if (problems.Count > 0)
        {
            return SubmissionProblem.ToResult(problems);
        }

        return await runner.BackfillAsync(scheduleId, ticks, cancellationToken) is { } result
            ? TypedResults.Ok(new ScheduleBackfillResponse(scheduleId,
                [.. result.Started.Select(t => new ScheduleTickView(t.TickAt, t.Outcome, t.Reason, t.JobId, t.Count, t.RecordedAt))], result.AlreadyStarted))
            : NotFoundProblems.Schedule(scheduleId);
    }

    private static async Task<Results<Ok<ScheduleTickListResponse>, NotFoundProblem, ValidationProblem>> ListTicksAsync(
        Guid scheduleId, int? limit, ScheduleStore store, HttpContext http, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 500)
        {
            return SubmissionProblem.ToResult([new SubmissionProblem("limit", "limit must be between 1 and 500.")]);
        }

        if (await VisibleAsync(store, scheduleId, http, cancellationToken) is null)
        {
            return NotFoundProblems.Schedule(scheduleId);
        }

        var ticks = await store.ListTicksAsync(scheduleId, limit ?? 100, cancellationToken);
        return TypedResults.Ok(new ScheduleTickListResponse(scheduleId,
            [.. ticks.Select(t => new ScheduleTickView(t.TickAt, t.Outcome, t.Reason, t.JobId, t.Count, t.RecordedAt))]));
    }

    /// <summary>The schedule when the caller may see it; null when there is none or it is another tenant's (or user's).</summary>
    private static async Task<Schedule?> VisibleAsync(ScheduleStore store, Guid scheduleId, HttpContext http, CancellationToken cancellationToken) =>
        await store.GetAsync(scheduleId, cancellationToken) is { } schedule && CallerScope.From(http).CanSee(schedule.TenantId, schedule.UserId)
            ? schedule
            : null;
}
