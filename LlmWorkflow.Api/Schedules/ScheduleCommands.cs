using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Storage.Schedules;
using LlmWorkflow.Storage.Webhooks;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Api.Schedules;

/// <summary>
/// The outcome of a create or update: the schedule (new or, for a repeated idempotency key, existing, with the answer
/// its first request got in <paramref name="Answer"/>), a key reused with another request, or problems.
/// </summary>
public sealed record ScheduleResult(Schedule? Schedule, bool Created, IReadOnlyList<SubmissionProblem> Problems, ScheduleResponse? Answer = null, bool KeyConflict = false);

/// <summary>
/// Creates and changes schedules: validates every field as a job submission is validated (the workflow's input schema,
/// priority, the webhook URL policy) plus the cron expression, the zone and the policies, each problem naming its
/// field; stores the schedule and tells the workers' tickers of its next tick (a lost notice only delays a tick by the
/// tickers' backstop reread).
/// </summary>
public sealed partial class ScheduleCommands(
    ScheduleStore store,
    ScheduleNotices notices,
    WorkflowCatalog catalog,
    TimeProvider time,
    IOptions<WebhookOptions> webhookOptions,
    WebhookSecretProtector secretProtector,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> jsonOptions,
    ILogger<ScheduleCommands> logger)
{
    public const int MaxNameLength = 200;
    public const string DefaultTimezone = "UTC";

    /// <param name="fingerprint">The request's <see cref="IdempotentRequests.Fingerprint"/>, when it carries an idempotency key.</param>
    public async Task<ScheduleResult> CreateAsync(
        CreateScheduleRequest request, string tenantId, string? userId, string? idempotencyKey, string? fingerprint, CancellationToken cancellationToken)
    {
        var problems = new List<SubmissionProblem>();
        if (string.IsNullOrWhiteSpace(request.WorkflowName))
        {
            problems.Add(new("workflow_name", "workflow_name is required."));
        }

        CheckName(problems, request.Name, required: true);
        if (idempotencyKey is { Length: > SubmissionValidator.MaxUserFieldLength })
        {
            problems.Add(new("Idempotency-Key", $"Idempotency-Key must be at most {SubmissionValidator.MaxUserFieldLength} characters."));
        }

        var now = IdempotentRequests.AsStored(time.GetUtcNow());
        var draft = new Schedule
        {
            Id = Guid.CreateVersion7(now),
            TenantId = tenantId,
            UserId = userId,
            Name = request.Name?.Trim() ?? "",
            WorkflowName = request.WorkflowName ?? "",
            Cron = request.Cron?.Trim() ?? "",
            TimeZone = string.IsNullOrWhiteSpace(request.Timezone) ? DefaultTimezone : request.Timezone.Trim(),
            InputData = "{}",
            Priority = request.Priority ?? 0,
            // The service's default webhook, as a job submission gets it (and checked the same way).
            WebhookUrl = string.IsNullOrEmpty(request.WebhookUrl)
                ? (string.IsNullOrEmpty(webhookOptions.Value.DefaultUrl) ? null : webhookOptions.Value.DefaultUrl)
                : request.WebhookUrl,
            Overlap = request.Overlap ?? ScheduleOverlap.Skip,
            CatchUp = request.CatchUp ?? ScheduleCatchUp.Last,
            Paused = request.Paused ?? false,
            NextRunAt = now,
            IdempotencyKey = string.IsNullOrWhiteSpace(idempotencyKey) ? null : idempotencyKey,
            CreatedAt = now,
            UpdatedAt = now,
        };
        draft = ScheduleWindowInput.Apply(draft, request.JitterSeconds, request.StartAt, request.EndAt, problems);
        var (schedule, more) = Validate(draft, request.InputData ?? new JsonObject(), request.WebhookSecret, timingChanged: true, now);
        problems.AddRange(more);
        if (problems.Count > 0 || schedule is null)
        {
            return new ScheduleResult(null, false, problems);
        }

        if (schedule.IdempotencyKey is { } key && await store.FindByIdempotencyKeyAsync(tenantId, userId, key, cancellationToken) is { } existing)
        {
            return Repeat(existing, fingerprint);
        }

        var answer = ToResponse(schedule);
        if (schedule.IdempotencyKey is not null)
        {
            schedule = schedule with { IdempotencyFingerprint = fingerprint, IdempotentResponse = JsonSerializer.Serialize(answer, jsonOptions.Value.SerializerOptions) };
        }

        if (!await store.InsertAsync(schedule, cancellationToken))
        {
            // Two requests with one key raced; the other one won.
            var winner = schedule.IdempotencyKey is { } raced ? await store.FindByIdempotencyKeyAsync(tenantId, userId, raced, cancellationToken) : null;
            return winner is null
                ? throw new InvalidOperationException($"Schedule {schedule.Id} was not inserted and no schedule holds its idempotency key.")
                : Repeat(winner, fingerprint);
        }

        await AnnounceAsync(schedule.NextRunAt);
        return new ScheduleResult(schedule, true, [], answer);
    }

    /// <summary>A repeated key: the first request's answer for the same request, a conflict for another one.</summary>
    private ScheduleResult Repeat(Schedule existing, string? fingerprint)
    {
        if (fingerprint is not null && !IdempotentRequests.SameRequest(existing.IdempotencyFingerprint, fingerprint))
        {
            return new ScheduleResult(null, false, [], KeyConflict: true);
        }

        var answer = existing.IdempotentResponse is { } stored
            ? JsonSerializer.Deserialize<ScheduleResponse>(stored, jsonOptions.Value.SerializerOptions)
            : ToResponse(existing);
        return new ScheduleResult(existing, false, [], answer);
    }

    /// <summary>Applies the fields the request sends to <paramref name="current"/>; null schedule with problems when one is invalid, or when it was deleted meanwhile (no problems).</summary>
    public async Task<ScheduleResult> UpdateAsync(Schedule current, UpdateScheduleRequest request, CancellationToken cancellationToken)
    {
        var problems = new List<SubmissionProblem>();
        CheckName(problems, request.Name, required: false);
        var now = time.GetUtcNow();
        var resuming = current.Paused && request.Paused == false;
        // A resumed schedule starts from now: the ticks of its pause are recorded skipped, never run late.
        var timingChanged = resuming || request.StartAt is not null || request.EndAt is not null
            || (request.Cron is not null && request.Cron.Trim() != current.Cron)
            || (request.Timezone is not null && request.Timezone.Trim() != current.TimeZone);
        var draft = current with
        {
            Name = request.Name?.Trim() ?? current.Name,
            Cron = request.Cron?.Trim() ?? current.Cron,
            TimeZone = request.Timezone?.Trim() ?? current.TimeZone,
            Priority = request.Priority ?? current.Priority,
            WebhookUrl = request.WebhookUrl is null ? current.WebhookUrl : request.WebhookUrl.Length == 0 ? null : request.WebhookUrl,
            Overlap = request.Overlap ?? current.Overlap,
            CatchUp = request.CatchUp ?? current.CatchUp,
            Paused = request.Paused ?? current.Paused,
            UpdatedAt = now,
        };
        draft = ScheduleWindowInput.Apply(draft, request.JitterSeconds, request.StartAt, request.EndAt, problems);
        var input = request.InputData ?? JsonNode.Parse(current.InputData);
        // Unchanged secret: kept as stored (protected); a new one is protected again below.
        var (schedule, more) = Validate(draft, input, request.WebhookSecret ?? secretProtector.Unprotect(current.WebhookSecret), timingChanged, now);
        problems.AddRange(more);
        if (problems.Count > 0 || schedule is null)
        {
            return new ScheduleResult(null, false, problems);
        }

        if (resuming)
        {
            await RecordPausedTicksAsync(current, now, cancellationToken);
        }

        var updated = await store.UpdateAsync(schedule, timingChanged, cancellationToken);
        if (updated is not null && timingChanged)
        {
            await AnnounceAsync(updated.NextRunAt);
        }

        return new ScheduleResult(updated, false, []);
    }

    // Before the update that resumes: a crash between the two leaves the schedule paused and the PATCH repeatable.
    private async Task RecordPausedTicksAsync(Schedule paused, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // Cronos refuses a range that ends before it starts: nothing fell due.
        if (paused.NextRunAt > now || ScheduleCron.Parse(paused.Cron, out _) is not { } cron || ScheduleCron.FindZone(paused.TimeZone) is not { } zone)
        {
            return;
        }

        var ticks = cron.GetOccurrences(paused.NextRunAt, now, zone, fromInclusive: true, toInclusive: true).ToList();
        if (ticks.Count > 0)
        {
            await store.RecordPausedTicksAsync(paused.Id, ticks[0].ToUniversalTime(), ticks.Count, now, cancellationToken);
        }
    }

    /// <summary>The schedule as answered: its fields (never the secret) and the next five ticks from now.</summary>
    public ScheduleResponse ToResponse(Schedule schedule)
    {
        var nextRuns = ScheduleCron.Parse(schedule.Cron, out _) is { } cron && ScheduleCron.FindZone(schedule.TimeZone) is { } zone
            ? ScheduleCron.NextRuns(cron, zone, schedule.StartAt is { } start && start > time.GetUtcNow() ? start.AddTicks(-1) : time.GetUtcNow(), 5)
                .Where(r => TickPlanner.InWindow(schedule, r)).Select(r => new ScheduleRunTime(r.ToUniversalTime(), r)).ToArray()
            : [];
        return new ScheduleResponse(schedule.Id, schedule.Name, schedule.WorkflowName, schedule.Cron, schedule.TimeZone, JsonNode.Parse(schedule.InputData),
            schedule.Priority, schedule.WebhookUrl, schedule.Overlap, schedule.CatchUp, schedule.Paused, schedule.NextRunAt, nextRuns, schedule.UserId,
            schedule.CreatedAt, schedule.UpdatedAt, $"/api/v1/jobs?schedule_id={schedule.Id}", $"/api/v1/schedules/{schedule.Id}/ticks",
            schedule.JitterSeconds, schedule.StartAt, schedule.EndAt, schedule.BufferedTickAt);
    }

    /// <summary>Checks the draft's fields; returns it completed (input, protected secret, next tick when the timing changed) or the problems.</summary>
    private (Schedule? Schedule, List<SubmissionProblem> Problems) Validate(Schedule draft, JsonNode? input, string? webhookSecret, bool timingChanged, DateTimeOffset now)
    {
        var problems = new List<SubmissionProblem>();
        var next = CheckTiming(draft, now, problems);
        if (input is not JsonObject inputObject)
        {
            problems.Add(new("input_data", "input_data must be a JSON object."));
            inputObject = [];
        }

        CheckWorkflow(draft, input, inputObject, webhookSecret, problems);
        if (draft.WebhookUrl is not null && !webhookOptions.Value.CanSign(webhookSecret))
        {
            problems.Add(new("webhook_secret",
                "webhook_url needs a signing secret and this service has none: send webhook_secret, or set LLM_WEBHOOK_SECRET (Webhooks:Secret) on the service."));
        }

        if (problems.Count > 0)
        {
            return (null, problems);
        }

        return (draft with
        {
            InputData = inputObject.ToJsonString(),
            WebhookSecret = secretProtector.Protect(string.IsNullOrEmpty(webhookSecret) ? null : webhookSecret),
            // Cronos answers in the zone's offset; PostgreSQL's timestamptz takes UTC only.
            NextRunAt = timingChanged ? next!.Value.ToUniversalTime() : draft.NextRunAt,
        }, problems);
    }

    /// <summary>Checks cron, time zone, overlap and catch_up; returns the next tick when cron and zone are valid.</summary>
    private static DateTimeOffset? CheckTiming(Schedule draft, DateTimeOffset now, List<SubmissionProblem> problems)
    {
        var cron = ScheduleCron.Parse(draft.Cron, out var cronProblem);
        if (cron is null)
        {
            problems.Add(new("cron", cronProblem!));
        }

        var zone = ScheduleCron.FindZone(draft.TimeZone);
        if (zone is null)
        {
            problems.Add(new("timezone", $"Unknown time zone '{draft.TimeZone}': use an IANA id such as Europe/Berlin, America/New_York or UTC."));
        }

        DateTimeOffset? next = cron is not null && zone is not null ? TickPlanner.NextInWindow(draft, cron, zone, now) : null;
        if (cron is not null && zone is not null && next is null)
        {
            problems.Add(draft.EndAt is null
                ? new("cron", "cron has no tick after now: it would never run.")
                : new("end_at", "cron has no tick between now (or start_at) and end_at: it would never run."));
        }

        if (!ScheduleOverlap.Values.Contains(draft.Overlap))
        {
            problems.Add(new("overlap", $"Invalid overlap '{draft.Overlap}'. Valid values: {string.Join(", ", ScheduleOverlap.Values)}."));
        }

        if (!ScheduleCatchUp.Values.Contains(draft.CatchUp))
        {
            problems.Add(new("catch_up", $"Invalid catch_up '{draft.CatchUp}'. Valid values: {string.Join(", ", ScheduleCatchUp.Values)}."));
        }

        return next;
    }

    /// <summary>The workflow must exist, and a tick's job must be one <c>POST /api/v1/workflow</c> would accept.</summary>
    private void CheckWorkflow(Schedule draft, JsonNode? input, JsonObject inputObject, string? webhookSecret, List<SubmissionProblem> problems)
    {
        WorkflowDefinition? workflow = null;
        if (draft.WorkflowName.Length > 0 && !catalog.TryGet(draft.WorkflowName, out workflow))
        {
            problems.Add(new("workflow_name", $"Unknown workflow '{draft.WorkflowName}'. Known workflows: {string.Join(", ", catalog.All.Select(w => w.Name))}."));
        }
        else if (workflow is not null)
        {
            // The job submission's own checks (priority, webhook URL policy, input schema), so a tick's job is one
            // POST /api/v1/workflow would have accepted.
            var asSubmission = new JobSubmission
            {
                WorkflowName = draft.WorkflowName,
                InputData = inputObject,
                TenantId = draft.TenantId,
                UserId = draft.UserId,
                WebhookUrl = draft.WebhookUrl,
                WebhookSecret = webhookSecret,
                Priority = draft.Priority,
            };
            problems.AddRange(SubmissionValidator.Validate(asSubmission, workflow, webhookOptions.Value.AllowPrivateNetworks)
                .Where(p => input is JsonObject || !p.Field.StartsWith("input_data", StringComparison.Ordinal)));
            // A tick's job takes its workflow's concurrency key from this input, as a submitted job does.
            if (workflow.Concurrency is { } concurrency
                && concurrency.Resolve(inputObject, WorkflowConcurrency.KeyContext(draft.UserId, null, null, draft.Priority)).Problem is { } keyProblem)
            {
                problems.Add(new("input_data", keyProblem));
            }
        }
    }

    private static void CheckName(List<SubmissionProblem> problems, string? name, bool required)
    {
        if (name is null ? required : name.Trim().Length is 0 or > MaxNameLength)
        {
            problems.Add(new("name", $"name is required: 1-{MaxNameLength} characters."));
        }
    }

    /// <summary>Runs a tick of the schedule now (its next cron tick stays); null when it is paused or gone.</summary>
    public async Task<Schedule?> TriggerAsync(Schedule schedule, ScheduleStore store, CancellationToken cancellationToken)
    {
        // Whole milliseconds, as stored: the tick's time is part of its record's key.
        var now = IdempotentRequests.AsStored(time.GetUtcNow());
        if (await store.TriggerAsync(schedule.Id, now, cancellationToken) is not { } triggered)
        {
            return null;
        }

        await AnnounceAsync(now);
        return triggered;
    }

    private async Task AnnounceAsync(DateTimeOffset nextRunAt)
    {
        try
        {
            await notices.AnnounceAsync(nextRunAt).WaitAsync(TimeSpan.FromSeconds(1));
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            LogNoticeFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A schedule's notice could not be published; the tickers find its next tick at their next reread")]
    private partial void LogNoticeFailed(Exception ex);
}
