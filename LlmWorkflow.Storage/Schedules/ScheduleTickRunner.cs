using System.Text.Json;
using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Storage.Versions;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>
/// Decides due schedule ticks, exactly once whatever the number of tickers: each schedule is taken with a row lock
/// (<c>FOR UPDATE SKIP LOCKED</c>: a second ticker passes it by), its due ticks are recorded in
/// <c>llm_schedule_ticks</c> (primary key schedule + tick time: a second record of one tick fails the whole
/// transaction), the jobs of the started ones are inserted by <see cref="JobLifecycleStore.SubmitAsync(IReadOnlyList{WorkflowJob}, NpgsqlTransaction?, CancellationToken, TenantConcurrency?)"/>
/// in the same transaction, and <c>next_run_at</c> moves past them only if it still holds the tick that was read.
/// All of it commits together or not at all, so a ticker killed mid-way leaves the tick to the next one. Only then are
/// the jobs dispatched (a lost dispatch is the reconciler's, as for any stored job) and, under <c>cancel_previous</c>,
/// the unfinished earlier jobs cancelled.
/// </summary>
public sealed partial class ScheduleTickRunner(
    NpgsqlDataSource dataSource,
    JobLifecycleStore jobs,
    JobQueue queue,
    JobCancellation cancellation,
    WorkflowVersions versions,
    IOptions<ScheduleOptions> options,
    TimeProvider time,
    ILogger<ScheduleTickRunner> logger)
{
    private static readonly string UnfinishedStatuses = string.Join(", ",
        Enum.GetValues<JobStatus>().Where(s => !s.IsTerminal()).Select(s => $"'{s.ToWire()}'"));

    // $1 now. Due: its next tick came, or (buffer_one) its buffered tick's previous jobs all ended.
    private static readonly string ClaimDueSql = $"""
        SELECT {ScheduleStore.Columns} FROM llm_schedules s
         WHERE NOT paused
           AND (next_run_at <= $1
                OR (buffered_tick_at IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM llm_workflow_jobs j WHERE j.schedule_id = s.id AND j.status IN ({UnfinishedStatuses}))))
         ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED
        """;

    // $1 schedule id.
    private static readonly string UnfinishedJobsSql =
        $"SELECT id FROM llm_workflow_jobs WHERE schedule_id = $1 AND status IN ({UnfinishedStatuses})";

    // One array per column: $1 schedule ids, $2 tick times, $3 outcomes, $4 reasons, $5 job ids, $6 tick counts, $7 recorded at.
    private const string RecordTicksSql = """
        INSERT INTO llm_schedule_ticks (schedule_id, tick_at, outcome, reason, job_id, tick_count, recorded_at)
        SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::uuid[], $6::int[], $7::timestamptz[])
        """;

    // $1 next tick, $2 schedule id, $3 the tick that was read, $4 the buffered tick (buffer_one) or NULL.
    private const string MoveNextSql = "UPDATE llm_schedules SET next_run_at = $1, buffered_tick_at = $4 WHERE id = $2 AND next_run_at = $3";

    /// <summary>Decides every tick due now, schedule by schedule; returns how many ticks were recorded.</summary>
    public async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        var recorded = 0;
        while (await RunOneAsync(time.GetUtcNow(), cancellationToken) is { } count)
        {
            recorded += count;
        }

        return recorded;
    }

    /// <summary>Decides the due ticks of one schedule no other ticker holds; null when none is due.</summary>
    private async Task<int?> RunOneAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var schedule = await ClaimDueAsync(transaction, now, cancellationToken);
        if (schedule is null)
        {
            return null;
        }

        var (cron, zone) = (ScheduleCron.Parse(schedule.Cron, out _), ScheduleCron.FindZone(schedule.TimeZone));
        if (cron is null || zone is null)
        {
            // Validated on every write; only a zone the host's tz database lost lands here. Parked, not spun on.
            LogUnreadable(schedule.Id, schedule.TimeZone);
            await MoveNextAsync(transaction, schedule, now + TimeSpan.FromHours(1), schedule.BufferedTickAt, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return 0;
        }

        // Claimed for its buffered tick alone, its next tick still ahead: nothing to plan.
        var plan = schedule.NextRunAt <= now ? TickPlanner.Plan(schedule, cron, zone, now, options.Value) : new TickPlan([], schedule.NextRunAt);
        var unfinished = await UnfinishedJobsAsync(transaction, schedule.Id, cancellationToken);
        var (bufferedJob, bufferedTick) = StartBuffered(schedule, unfinished, now);
        var buffered = bufferedTick is null ? schedule.BufferedTickAt : null;
        var (started, ticks, toCancel) = Decide(schedule, plan, unfinished, now, ref buffered);
        if (bufferedJob is not null)
        {
            started.Insert(0, bufferedJob);
        }

        if (started.Count > 0)
        {
            // A tick's job is pinned like a submitted one: it runs the version current at its tick (see WorkflowVersions).
            if (versions.Current(schedule.WorkflowName) is { } version)
            {
                await versions.EnsureStoredAsync(version, cancellationToken);
                started.ForEach(job => job.DefinitionHash = version.Hash);
            }

            await jobs.SubmitAsync(started, transaction, cancellationToken);
        }

        if (ticks.Count > 0)
        {
            await RecordTicksAsync(transaction, ticks, cancellationToken);
        }

        if (bufferedTick is not null)
        {
            await RecordBufferedStartAsync(transaction, bufferedTick, cancellationToken);
        }

        if (!await MoveNextAsync(transaction, schedule, plan.NextRunAt, buffered, cancellationToken))
        {
            // Unreachable under the row lock; kept so that a tick is never decided against a moved next_run_at.
            await transaction.RollbackAsync(cancellationToken);
            return 0;
        }

        await transaction.CommitAsync(cancellationToken);
        foreach (var job in started)
        {
            Telemetry.JobsSubmitted.Add(1, new KeyValuePair<string, object?>("workflow", job.WorkflowName));
        }

        await DispatchAsync(started);
        foreach (var previous in toCancel)
        {
            await cancellation.CancelAsync(previous, cancellationToken);
        }

        return ticks.Count + (bufferedTick is null ? 0 : 1);
    }

    /// <summary>
    /// What each planned tick does under the schedule's overlap rule: skipped (with its reason) or started as a new job;
    /// <c>cancel_previous</c> also names the unfinished jobs to cancel once the transaction commits; <c>buffer_one</c>
    /// buffers the first tick that overlaps (<paramref name="buffered"/>, null when none waits) and skips the next.
    /// </summary>
    private (List<WorkflowJob> Started, List<ScheduleTick> Ticks, List<Guid> ToCancel) Decide(
        Schedule schedule, TickPlan plan, List<Guid> unfinished, DateTimeOffset now, ref DateTimeOffset? buffered)
    {
        var toCancel = new List<Guid>();
        var started = new List<WorkflowJob>();
        var ticks = new List<ScheduleTick>();
        foreach (var planned in plan.Ticks)
        {
            if (!planned.Start)
            {
                ticks.Add(new ScheduleTick(schedule.Id, planned.TickAt, ScheduleTick.Skipped, planned.Reason, null, planned.Count, now));
                continue;
            }

            if (schedule.Overlap == ScheduleOverlap.BufferOne && unfinished.Count > 0 && buffered is null)
            {
                buffered = planned.TickAt;
                ticks.Add(new ScheduleTick(schedule.Id, planned.TickAt, ScheduleTick.Buffered, null, null, 1, now));
                continue;
            }

            if (schedule.Overlap is ScheduleOverlap.Skip or ScheduleOverlap.BufferOne && unfinished.Count > 0)
            {
                ticks.Add(new ScheduleTick(schedule.Id, planned.TickAt, ScheduleTick.Skipped, TickReasons.Overlap, null, 1, now));
                continue;
            }

            if (schedule.Overlap == ScheduleOverlap.CancelPrevious)
            {
                toCancel.AddRange(unfinished);
                unfinished.Clear();
            }

            var job = NewJob(schedule, planned.TickAt, now);
            if (!TakeConcurrencyKey(job, schedule))
            {
                ticks.Add(new ScheduleTick(schedule.Id, planned.TickAt, ScheduleTick.Skipped, TickReasons.NoConcurrencyKey, null, 1, now));
                continue;
            }

            started.Add(job);
            unfinished.Add(job.Id);
            ticks.Add(new ScheduleTick(schedule.Id, planned.TickAt, ScheduleTick.Started, null, job.Id, 1, now));
        }

        return (started, ticks, toCancel);
    }

    private static async Task<Schedule?> ClaimDueAsync(NpgsqlTransaction transaction, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(ClaimDueSql, transaction.Connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        return (await ScheduleStore.ReadAsync(command, cancellationToken)).FirstOrDefault();
    }

    private static async Task<List<Guid>> UnfinishedJobsAsync(NpgsqlTransaction transaction, Guid scheduleId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(UnfinishedJobsSql, transaction.Connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = scheduleId });
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.Field<Guid>("id"));
        }

        return ids;
    }

    private static async Task RecordTicksAsync(NpgsqlTransaction transaction, List<ScheduleTick> ticks, CancellationToken cancellationToken, string sql = RecordTicksSql)
    {
        // No ON CONFLICT: a tick recorded twice is a violation that rolls back the second decision, job included.
        await using var command = new NpgsqlCommand(sql, transaction.Connection, transaction);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter { Value = ticks.Select(t => t.ScheduleId).ToArray() });
        p.Add(new NpgsqlParameter { Value = ticks.Select(t => t.TickAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter { Value = ticks.Select(t => t.Outcome).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = ticks.Select(t => t.Reason).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = ticks.Select(t => t.JobId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        p.Add(new NpgsqlParameter { Value = ticks.Select(t => t.Count).ToArray() });
        p.Add(new NpgsqlParameter { Value = ticks.Select(t => t.RecordedAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Moves next_run_at past the decided ticks, only if it still holds the tick that was read.</summary>
    private static async Task<bool> MoveNextAsync(
        NpgsqlTransaction transaction, Schedule schedule, DateTimeOffset next, DateTimeOffset? buffered, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(MoveNextSql, transaction.Connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = next });
        command.Parameters.Add(new NpgsqlParameter { Value = schedule.Id });
        command.Parameters.Add(new NpgsqlParameter { Value = schedule.NextRunAt });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)buffered ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>
    /// Gives a tick's job its workflow's concurrency key, as a submission does, so that the key's limit holds for
    /// scheduled jobs too; false when the schedule's input no longer gives one (the definition changed since).
    /// </summary>
    private bool TakeConcurrencyKey(WorkflowJob job, Schedule schedule)
    {
        if (versions.Current(schedule.WorkflowName)?.Definition is not { Concurrency: { } concurrency } workflow)
        {
            return true;
        }

        var (key, _) = concurrency.Resolve(System.Text.Json.Nodes.JsonNode.Parse(schedule.InputData),
            WorkflowConcurrency.KeyContext(schedule.UserId, null, null, schedule.Priority));
        if (key is null)
        {
            return false;
        }

        job.ConcurrencyKey = WorkflowConcurrency.Scoped(schedule.TenantId, workflow.Name, key);
        job.ConcurrencyLimit = concurrency.Limit;
        return true;
    }

    // Under jitter_seconds the job waits scheduled (SubmitScheduled) until its tick plus its jitter, as a job submitted
    // with run_at does; a tick decided late (catch-up) whose jitter already passed runs at once.
    private static WorkflowJob NewJob(Schedule schedule, DateTimeOffset tickAt, DateTimeOffset now)
    {
        var id = Guid.CreateVersion7(now);
        DateTimeOffset? runAt = tickAt + TickPlanner.JitterOf(schedule, tickAt) is { } due && due > now ? due : null;
        return new WorkflowJob
        {
            Id = id,
            CeleryTaskId = id.ToString(),
            WorkflowName = schedule.WorkflowName,
            Priority = schedule.Priority,
            WebhookUrl = schedule.WebhookUrl,
            WebhookSecret = schedule.WebhookSecret,
            TenantId = schedule.TenantId,
            UserId = schedule.UserId,
            Status = runAt is null ? JobStatus.Queued : JobStatus.Scheduled,
            RunAt = runAt,
            InputData = JsonDocument.Parse(schedule.InputData),
            QueuedAt = runAt ?? now,
            DispatchedAt = runAt is null ? now : null,
            CreatedAt = now,
            UpdatedAt = now,
            ScheduleId = schedule.Id,
        };
    }

    private async Task DispatchAsync(List<WorkflowJob> jobsStarted)
    {
        if (jobsStarted.Where(j => j.RunAt is not null).Min(j => j.RunAt) is { } earliestJittered)
        {
            try
            {
                // The wakers sleep until their next due time: a jittered job's time wakes them (a lost notice: their minute's reread).
                await queue.AnnounceDueAsync(earliestJittered);
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                LogDispatchFailed(ex, 0);
            }
        }

        var started = jobsStarted.Where(j => j.RunAt is null).ToList();
        if (started.Count == 0)
        {
            return;
        }

        try
        {
            await queue.EnqueueManyAsync([.. started.Select(j => new JobDispatch(j.Id, j.Priority))]);
        }
        catch (Exception ex)
        {
            // Stored and queued in PostgreSQL: the reconciler dispatches them.
            LogDispatchFailed(ex, started.Count);
            await jobs.ClearDispatchMarksAsync([.. started.Select(j => j.Id)]);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schedule {ScheduleId} cannot be read (time zone {TimeZone} unknown to this host); its ticks wait an hour")]
    private partial void LogUnreadable(Guid scheduleId, string timeZone);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} job(s) started by schedule ticks could not be dispatched; the reconciler will dispatch them")]
    private partial void LogDispatchFailed(Exception ex, int count);
}
