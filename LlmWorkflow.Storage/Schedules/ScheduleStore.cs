using System.Data.Common;
using LlmWorkflow.Storage.Jobs;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>
/// The statements on <c>llm_schedules</c> and <c>llm_schedule_ticks</c> the API's routes need (the ticker's are
/// <see cref="ScheduleTickRunner"/>'s). Tenant scoping is the caller's: it reads a schedule, checks its owner, then acts.
/// </summary>
public sealed class ScheduleStore(NpgsqlDataSource dataSource)
{
    internal const string Columns =
        "id, tenant_id, user_id, name, workflow_name, cron, timezone, input_data::text AS input_data, priority, webhook_url, " +
        "webhook_secret, overlap, catch_up, paused, next_run_at, idempotency_key, created_at, updated_at, " +
        "idempotency_fingerprint, idempotent_response::text AS idempotent_response, jitter_seconds, start_at, end_at, buffered_tick_at";

    // $1 id, $2 tenant, $3 user, $4 workflow, then the changeable fields ($5 name … $14 paused, see AddChangeable),
    // $15 next run at, $16 idempotency key, $17 created at (also updated at), $18 idempotency fingerprint, $19 idempotent response,
    // $20 … $22 the window and jitter (AddWindow).
    private const string InsertSql = """
        INSERT INTO llm_schedules (id, tenant_id, user_id, workflow_name, name, cron, timezone, input_data, priority, webhook_url,
                                   webhook_secret, overlap, catch_up, paused, next_run_at, idempotency_key, created_at, updated_at,
                                   idempotency_fingerprint, idempotent_response, jitter_seconds, start_at, end_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19::json, $20, $21, $22)
        ON CONFLICT DO NOTHING
        RETURNING id
        """;

    // $1 tenant, $2 user (or NULL), $3 idempotency key.
    private const string FindByIdempotencyKeySql =
        $"SELECT {Columns} FROM llm_schedules WHERE tenant_id = $1 AND COALESCE(user_id, '') = COALESCE($2, '') AND idempotency_key = $3";

    // $1 id.
    private const string GetSql = $"SELECT {Columns} FROM llm_schedules WHERE id = $1";

    // $1 tenant (NULL: every tenant), $2 user (NULL: any user); the page also $3 limit, $4 offset.
    private const string ListWhere = "($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR user_id = $2)";

    private const string ListPageSql = $"SELECT {Columns} FROM llm_schedules WHERE {ListWhere} ORDER BY created_at, id LIMIT $3 OFFSET $4";

    private const string ListCountSql = $"SELECT count(*) AS total FROM llm_schedules WHERE {ListWhere}";

    // $1 id, the changeable fields ($2 name … $11 paused, see AddChangeable), $12 timing changed, $13 next run at, $14 updated at,
    // $15 … $17 the window and jitter (AddWindow).
    private const string UpdateSql = $"""
        UPDATE llm_schedules
           SET name = $2, cron = $3, timezone = $4, input_data = $5::jsonb, priority = $6, webhook_url = $7, webhook_secret = $8,
               overlap = $9, catch_up = $10, paused = $11, next_run_at = CASE WHEN $12 THEN $13 ELSE next_run_at END, updated_at = $14,
               jitter_seconds = $15, start_at = $16, end_at = $17
         WHERE id = $1
        RETURNING {Columns}
        """;

    // $1 id, $2 now: the next tick becomes now (an unpaused schedule only), so the tickers decide it at once; after it
    // the next tick is the cron's first after now again, the one it held before.
    private const string TriggerSql = $"""
        UPDATE llm_schedules SET next_run_at = $2, updated_at = $2
         WHERE id = $1 AND NOT paused
        RETURNING {Columns}
        """;

    // $1 id.
    private const string DeleteSql = "DELETE FROM llm_schedules WHERE id = $1";

    // $1 schedule id, $2 first tick, $3 tick count, $4 recorded at.
    private const string RecordPausedTicksSql = $"""
        INSERT INTO llm_schedule_ticks (schedule_id, tick_at, outcome, reason, job_id, tick_count, recorded_at)
        VALUES ($1, $2, 'skipped', '{TickReasons.Paused}', NULL, $3, $4)
        ON CONFLICT DO NOTHING
        """;

    // $1 schedule id, $2 limit.
    private const string ListTicksSql = """
        SELECT schedule_id, tick_at, outcome, reason, job_id, tick_count, recorded_at
          FROM llm_schedule_ticks WHERE schedule_id = $1 ORDER BY tick_at DESC LIMIT $2
        """;

    // No parameters.
    // Retention of the tick history, a batch at a time (idx_schedule_ticks_tick_at).
    // $1 ticks before this time go, $2 batch size.
    private const string PurgeTicksSql = """
        DELETE FROM llm_schedule_ticks
         WHERE ctid = ANY (ARRAY(SELECT ctid FROM llm_schedule_ticks WHERE tick_at < $1 LIMIT $2))
        """;

    private const string EarliestNextRunSql = "SELECT min(next_run_at) AS next_run_at FROM llm_schedules WHERE NOT paused";

    /// <summary>Inserts the schedule; false when another one of the caller holds its idempotency key.</summary>
    public async Task<bool> InsertAsync(Schedule schedule, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(InsertSql);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter { Value = schedule.Id });
        p.Add(new NpgsqlParameter { Value = schedule.TenantId });
        p.Add(Text(schedule.UserId));
        p.Add(new NpgsqlParameter { Value = schedule.WorkflowName });
        AddChangeable(p, schedule);
        p.Add(new NpgsqlParameter { Value = schedule.NextRunAt });
        p.Add(Text(schedule.IdempotencyKey));
        p.Add(new NpgsqlParameter { Value = schedule.CreatedAt });
        p.Add(Text(schedule.IdempotencyFingerprint));
        p.Add(Text(schedule.IdempotentResponse));
        AddWindow(p, schedule);
        return await command.ExecuteScalarAsync(cancellationToken) is Guid;
    }

    public async Task<Schedule?> FindByIdempotencyKeyAsync(string tenantId, string? userId, string key, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(FindByIdempotencyKeySql);
        command.Parameters.Add(new NpgsqlParameter { Value = tenantId });
        command.Parameters.Add(Text(userId));
        command.Parameters.Add(new NpgsqlParameter { Value = key });
        return (await ReadAsync(command, cancellationToken)).FirstOrDefault();
    }

    public async Task<Schedule?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(GetSql);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return (await ReadAsync(command, cancellationToken)).FirstOrDefault();
    }

    /// <summary>A page of schedules, oldest first, and how many match.</summary>
    /// <param name="tenantId">Only this tenant's (null: every tenant, for admins).</param>
    /// <param name="userId">Only this user's (null: any user of the tenant).</param>
    public async Task<(IReadOnlyList<Schedule> Page, long Total)> ListAsync(string? tenantId, string? userId, int limit, int offset, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(ListPageSql)
        {
            Parameters = { Text(tenantId), Text(userId), new NpgsqlParameter { Value = limit }, new NpgsqlParameter { Value = offset } },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(ListCountSql)
        {
            Parameters = { Text(tenantId), Text(userId) },
        });
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var page = new List<Schedule>();
        while (await reader.ReadAsync(cancellationToken))
        {
            page.Add(Read(reader));
        }

        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (page, reader.Field<long>("total"));
    }

    /// <summary>
    /// Writes the schedule's changeable fields. The next tick is written only when <paramref name="timingChanged"/>
    /// (cron or zone): otherwise the ticker may have moved it since the caller read the row, and its value stands.
    /// Null when the schedule is gone.
    /// </summary>
    public async Task<Schedule?> UpdateAsync(Schedule schedule, bool timingChanged, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(UpdateSql);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter { Value = schedule.Id });
        AddChangeable(p, schedule);
        p.Add(new NpgsqlParameter { Value = timingChanged });
        p.Add(new NpgsqlParameter { Value = schedule.NextRunAt });
        p.Add(new NpgsqlParameter { Value = schedule.UpdatedAt });
        AddWindow(p, schedule);
        return (await ReadAsync(command, cancellationToken)).FirstOrDefault();
    }

    /// <summary>The fields a PATCH may change, in the order both statements take them (name … paused, 10 parameters).</summary>
    private static void AddChangeable(NpgsqlParameterCollection p, Schedule schedule)
    {
        p.Add(new NpgsqlParameter { Value = schedule.Name });
        p.Add(new NpgsqlParameter { Value = schedule.Cron });
        p.Add(new NpgsqlParameter { Value = schedule.TimeZone });
        p.Add(new NpgsqlParameter { Value = schedule.InputData });
        p.Add(new NpgsqlParameter { Value = schedule.Priority });
        p.Add(Text(schedule.WebhookUrl));
        p.Add(Text(schedule.WebhookSecret));
        p.Add(new NpgsqlParameter { Value = schedule.Overlap });
        p.Add(new NpgsqlParameter { Value = schedule.CatchUp });
        p.Add(new NpgsqlParameter { Value = schedule.Paused });
    }

    /// <summary>The jitter and the window (start_at, end_at), last in both statements.</summary>
    private static void AddWindow(NpgsqlParameterCollection p, Schedule schedule)
    {
        p.Add(new NpgsqlParameter { Value = schedule.JitterSeconds });
        p.Add(new NpgsqlParameter { Value = (object?)schedule.StartAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter { Value = (object?)schedule.EndAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
    }

    /// <summary>Makes the schedule's next tick <paramref name="now"/>; null when it is gone or paused.</summary>
    public async Task<Schedule?> TriggerAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(TriggerSql);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        return (await ReadAsync(command, cancellationToken)).FirstOrDefault();
    }

    /// <summary>Deletes the schedule and its tick records; its jobs stay (and keep its id). False when it was gone.</summary>
    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(DeleteSql);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>
    /// Records the ticks that fell due while the schedule was paused as one skipped row (reason paused) standing for
    /// <paramref name="count"/> ticks from <paramref name="firstTickAt"/>. A repeated resume records nothing twice.
    /// </summary>
    public async Task RecordPausedTicksAsync(Guid id, DateTimeOffset firstTickAt, int count, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RecordPausedTicksSql);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = firstTickAt });
        command.Parameters.Add(new NpgsqlParameter { Value = count });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The schedule's most recent decided ticks, newest first.</summary>
    public async Task<IReadOnlyList<ScheduleTick>> ListTicksAsync(Guid id, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ListTicksSql);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ticks = new List<ScheduleTick>();
        while (await reader.ReadAsync(cancellationToken))
        {
            ticks.Add(new ScheduleTick(reader.Field<Guid>("schedule_id"), reader.Field<DateTimeOffset>("tick_at"), reader.Field<string>("outcome"),
                reader.FieldOrNull<string>("reason"), reader.FieldOrNull<Guid?>("job_id"), reader.Field<int>("tick_count"), reader.Field<DateTimeOffset>("recorded_at")));
        }

        return ticks;
    }

    /// <summary>
    /// The earliest next tick of any active schedule, or null. Paused schedules wake no ticker (a paused every-second
    /// schedule would otherwise cost every worker a wake-up and a row each second); their ticks are recorded as one
    /// skipped row when they resume (<see cref="RecordPausedTicksAsync"/>).
    /// </summary>
    /// <summary>
    /// Deletes the ticks recorded for times before <paramref name="before"/> (the finished jobs' retention: a tick's job
    /// is gone by then), in batches of <paramref name="batchSize"/>; returns how many went.
    /// </summary>
    public Task<int> PurgeTicksBeforeAsync(DateTimeOffset before, int batchSize, CancellationToken cancellationToken) =>
        Persistence.BatchedDelete.RunAsync(dataSource, PurgeTicksSql, before, batchSize, cancellationToken);

    public async Task<DateTimeOffset?> EarliestNextRunAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(EarliestNextRunSql);
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null;
    }

    internal static async Task<List<Schedule>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var schedules = new List<Schedule>();
        while (await reader.ReadAsync(cancellationToken))
        {
            schedules.Add(Read(reader));
        }

        return schedules;
    }

    private static Schedule Read(DbDataReader reader) => new()
    {
        Id = reader.Field<Guid>("id"),
        TenantId = reader.Field<string>("tenant_id"),
        UserId = reader.FieldOrNull<string>("user_id"),
        Name = reader.Field<string>("name"),
        WorkflowName = reader.Field<string>("workflow_name"),
        Cron = reader.Field<string>("cron"),
        TimeZone = reader.Field<string>("timezone"),
        InputData = reader.Field<string>("input_data"),
        Priority = reader.Field<int>("priority"),
        WebhookUrl = reader.FieldOrNull<string>("webhook_url"),
        WebhookSecret = reader.FieldOrNull<string>("webhook_secret"),
        Overlap = reader.Field<string>("overlap"),
        CatchUp = reader.Field<string>("catch_up"),
        Paused = reader.Field<bool>("paused"),
        NextRunAt = reader.Field<DateTimeOffset>("next_run_at"),
        IdempotencyKey = reader.FieldOrNull<string>("idempotency_key"),
        IdempotencyFingerprint = reader.FieldOrNull<string>("idempotency_fingerprint"),
        IdempotentResponse = reader.FieldOrNull<string>("idempotent_response"),
        CreatedAt = reader.Field<DateTimeOffset>("created_at"),
        UpdatedAt = reader.Field<DateTimeOffset>("updated_at"),
        JitterSeconds = reader.Field<int>("jitter_seconds"),
        StartAt = reader.FieldOrNull<DateTimeOffset?>("start_at"),
        EndAt = reader.FieldOrNull<DateTimeOffset?>("end_at"),
        BufferedTickAt = reader.FieldOrNull<DateTimeOffset?>("buffered_tick_at"),
    };

    private static NpgsqlParameter Text(string? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };
}
