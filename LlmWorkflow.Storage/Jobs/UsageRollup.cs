using Npgsql;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// The usage report's rollup: sums of <c>llm_provider_usage</c> per UTC day (by tenant, model and workflow; and by
/// tenant and user group) and per month (by tenant and user group). Built off the hot path by scheduled maintenance,
/// an hour at a time once the hour has been over for <see cref="Grace"/>, and kept equal to the raw rows: every call
/// before <c>llm_usage_rollup_state.rolled_until</c> is in it (so the open day's rows hold its rolled hours), deletes
/// of jobs keep their calls and mark them as from deleted jobs in the same statement
/// (<see cref="KeepDeletedJobsUsageSql"/>), the usage retention removes whole months (<see cref="PurgeBeforeAsync"/>), and
/// <c>UsageReport</c> sums later rows raw.
/// </summary>
public sealed class UsageRollup(NpgsqlDataSource dataSource, TimeProvider time)
{
    /// <summary>
    /// How long after an hour ends it is rolled up: a usage row carries its transaction's start time (the workers'
    /// write batches last milliseconds; writes held through an outage get the time they are finally written), so a row
    /// of an hour may commit a little after the hour ended.
    /// </summary>
    public static readonly TimeSpan Grace = TimeSpan.FromMinutes(10);

    // No parameters. The usage report reads it too, in its own transaction.
    public const string RolledUntilSql = "SELECT rolled_until FROM llm_usage_rollup_state";

    // No parameters.
    private const string FirstUsageSql = "SELECT min(created_at) AS first_at FROM llm_provider_usage";

    // $1 rolled until (the first rollup's start).
    private const string StartStateSql = """
        INSERT INTO llm_usage_rollup_state (rolled_until, updated_at) VALUES ($1, now())
        ON CONFLICT (id) DO NOTHING
        """;

    // $1 rolled until (used only when the row is new): holds the state row for the transaction.
    private const string HoldStateSql = """
        INSERT INTO llm_usage_rollup_state (rolled_until, updated_at) VALUES ($1, now())
        ON CONFLICT (id) DO UPDATE SET updated_at = now()
        """;

    // $1 rolled until.
    private const string AdvanceStateSql = "UPDATE llm_usage_rollup_state SET rolled_until = $1";

    private const string RollupWorkMemSql = "SET LOCAL work_mem = '64MB'";

    // $1 first day, $2 end day (exclusive).
    private const string ClearDailySql = "DELETE FROM llm_usage_daily WHERE day >= $1 AND day < $2";

    // $1 first day, $2 end day (exclusive).
    private const string ClearUserDailySql = "DELETE FROM llm_usage_user_daily WHERE day >= $1 AND day < $2";

    // $1 month.
    private const string ClearUserMonthSql = "DELETE FROM llm_usage_user_monthly WHERE month = $1";

    // $1 month, $2 next month: the month's per-user rows from its days.
    private const string UserMonthFromDaysSql = """
        INSERT INTO llm_usage_user_monthly (month, tenant_id, user_id, user_key, calls, input_tokens, output_tokens, total_tokens, cost_usd, username, username_at)
        SELECT $1, tenant_id, user_id, user_key, sum(calls), sum(input_tokens), sum(output_tokens), sum(total_tokens), sum(cost_usd),
               (array_agg(username ORDER BY username_at DESC) FILTER (WHERE username IS NOT NULL))[1], max(username_at)
          FROM llm_usage_user_daily WHERE day >= $1 AND day < $2
         GROUP BY tenant_id, user_id, user_key
        """;

    // $1 before (timestamptz), $2 batch size.
    private const string PurgeCallsSql = """
        DELETE FROM llm_provider_usage
         WHERE id IN (SELECT id FROM llm_provider_usage WHERE created_at < $1 ORDER BY created_at LIMIT $2)
        """;

    // $1 first month kept (each of the three).
    private const string PurgeDailySql = "DELETE FROM llm_usage_daily WHERE day < $1";

    private const string PurgeUserDailySql = "DELETE FROM llm_usage_user_daily WHERE day < $1";

    private const string PurgeUserMonthlySql = "DELETE FROM llm_usage_user_monthly WHERE month < $1";

    // $1 from, $2 until (timestamptz, within one month): adds the calls' sums to their days' and month's rows.
    private static readonly string RollForwardSql = RollSql(rebuild: false);

    // $1 from, $2 until (midnights, within one month): the days' rows anew (the month's per-user rows are recomputed after).
    private static readonly string RebuildDaysSql = RollSql(rebuild: true);

    /// <summary>The instant up to which every call is in the rollup (an hour boundary), or null before the first run.</summary>
    public async Task<DateTimeOffset?> RolledUntilAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RolledUntilSql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? reader.Field<DateTimeOffset>("rolled_until") : null;
    }

    /// <summary>
    /// Adds every closed hour not rolled up yet to the rollup, one calendar month per transaction; returns the hours
    /// added.
    /// </summary>
    public async Task<int> RollUpAsync(CancellationToken cancellationToken)
    {
        var closed = FloorHour(time.GetUtcNow() - Grace);
        var from = await RolledUntilAsync(cancellationToken) ?? await FirstUsageHourAsync(cancellationToken) ?? closed;
        var hours = 0;
        while (from < closed)
        {
            var until = Min(MonthEnd(from), closed);
            await RollRangeAsync(from, until, rebuild: false, cancellationToken);
            hours += (int)(until - from).TotalHours;
            from = until;
        }

        if (hours == 0)
        {
            // Nothing to roll (e.g. no usage yet): the state still records that every call before this hour is "in" it.
            await using var command = dataSource.CreateCommand(StartStateSql);
            command.Parameters.Add(new NpgsqlParameter { Value = from });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return hours;
    }

    /// <summary>
    /// Recomputes the rolled-up part of the days [<paramref name="from"/>, <paramref name="until"/>) from the raw rows,
    /// for usage rows written with an earlier time than the grace allows (imports from another system, restores of
    /// part of a table); one transaction per calendar month. Only the rolled-up part is rebuilt: days from the rollup's
    /// end (<see cref="RolledUntilAsync"/>) are summed raw by the report and rolled up by maintenance anyway.
    /// </summary>
    public async Task<UsageRollupRebuild> RebuildAsync(DateOnly from, DateOnly until, CancellationToken cancellationToken)
    {
        if (await RolledUntilAsync(cancellationToken) is not { } rolledUntil)
        {
            return new UsageRollupRebuild(null, null);
        }

        var end = Min(Midnight(until), rolledUntil);
        for (var start = Midnight(from); start < end;)
        {
            var stop = Min(MonthEnd(start), end);
            await RollRangeAsync(start, stop, rebuild: true, cancellationToken);
            start = stop;
        }

        return new UsageRollupRebuild(end > Midnight(from) ? end : null, rolledUntil);
    }

    /// <summary>
    /// Sums the raw rows of [<paramref name="from"/>, <paramref name="until"/>) (within one month) into the rollup, in one
    /// transaction that holds the state row (so a concurrent delete either subtracts from the new sums or is already
    /// left out of them). Rolling forward adds them to the rows of their day and month and advances the state; a
    /// rebuild (<paramref name="from"/> a midnight, <paramref name="until"/> a midnight or the rollup's end) replaces
    /// those days' rows and recomputes the month's per-user rows from its days.
    /// </summary>
    private async Task RollRangeAsync(DateTimeOffset from, DateTimeOffset until, bool rebuild, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, HoldStateSql, cancellationToken, from);
        await ExecuteAsync(connection, transaction, RollupWorkMemSql, cancellationToken);
        var firstDay = DateOnly.FromDateTime(from.UtcDateTime);
        var month = new DateOnly(firstDay.Year, firstDay.Month, 1);
        if (rebuild)
        {
            var endDay = DateOnly.FromDateTime((until - TimeSpan.FromTicks(1)).UtcDateTime).AddDays(1);
            await ExecuteAsync(connection, transaction, ClearDailySql, cancellationToken, firstDay, endDay);
            await ExecuteAsync(connection, transaction, ClearUserDailySql, cancellationToken, firstDay, endDay);
        }

        await ExecuteAsync(connection, transaction, rebuild ? RebuildDaysSql : RollForwardSql, cancellationToken, from, until);
        if (rebuild)
        {
            await ExecuteAsync(connection, transaction, ClearUserMonthSql, cancellationToken, month);
            await ExecuteAsync(connection, transaction, UserMonthFromDaysSql, cancellationToken, month, NextMonth(month));
        }
        else
        {
            await ExecuteAsync(connection, transaction, AdvanceStateSql, cancellationToken, until);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private static string RollSql(bool rebuild) => $"""
        WITH calls AS MATERIALIZED (
            SELECT {RawCallColumns}
              FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON j.id = u.job_id
             WHERE u.created_at >= $1 AND u.created_at < $2
        ), by_dimension AS (
            INSERT INTO llm_usage_daily AS r (day, tenant_id, model, workflow_name, calls, input_tokens, output_tokens, total_tokens, cost_usd,
                                              deleted_calls, deleted_cost_usd)
            SELECT day, tenant_id, model, workflow_name, count(*), sum(input_tokens), sum(output_tokens), sum(total_tokens), sum(cost_usd),
                   count(*) FILTER (WHERE job_deleted), coalesce(sum(cost_usd) FILTER (WHERE job_deleted), 0)
              FROM calls GROUP BY day, tenant_id, model, workflow_name
            ON CONFLICT (day, tenant_id, model, workflow_name) DO UPDATE SET {AddSums},
               deleted_calls = r.deleted_calls + excluded.deleted_calls, deleted_cost_usd = r.deleted_cost_usd + excluded.deleted_cost_usd
        ){(rebuild ? "" : $"""
        , by_user_month AS (
            {UserSumsSql("llm_usage_user_monthly", "date_trunc('month', day::timestamp)::date", "month")}
        )
        """)}
        {UserSumsSql("llm_usage_user_daily", "day", "day")}
        """;

    /// <summary>A rollup row takes in more calls of its key: the sums add up.</summary>
    private const string AddSums = """
        calls = r.calls + excluded.calls, input_tokens = r.input_tokens + excluded.input_tokens,
        output_tokens = r.output_tokens + excluded.output_tokens, total_tokens = r.total_tokens + excluded.total_tokens,
        cost_usd = r.cost_usd + excluded.cost_usd
        """;

    /// <summary>
    /// The INSERT of the <c>calls</c> CTE's per-user sums into a per-user table keyed by <paramref name="period"/>
    /// (computed from each call's day by <paramref name="periodOfDay"/>): the sums add to an existing row, and its
    /// username becomes the newest of the two.
    /// </summary>
    private static string UserSumsSql(string table, string periodOfDay, string period) => $"""
        INSERT INTO {table} AS r ({period}, tenant_id, user_id, user_key, calls, input_tokens, output_tokens, total_tokens, cost_usd, username, username_at)
        SELECT {periodOfDay}, tenant_id, user_id, user_key, count(*), sum(input_tokens), sum(output_tokens), sum(total_tokens), sum(cost_usd),
               (array_agg(username ORDER BY created_at DESC) FILTER (WHERE username IS NOT NULL))[1],
               max(created_at) FILTER (WHERE username IS NOT NULL)
          FROM calls GROUP BY {periodOfDay}, tenant_id, user_id, user_key
        ON CONFLICT ({period}, tenant_id, user_id, user_key) DO UPDATE SET {AddSums},
           username = CASE WHEN excluded.username_at >= r.username_at OR r.username_at IS NULL THEN coalesce(excluded.username, r.username) ELSE r.username END,
           username_at = greatest(r.username_at, excluded.username_at)
        """;

    /// <summary>
    /// One raw usage row (<c>u</c>) with its job (<c>j</c>, left-joined) as the rollup keys it: UTC day, tenant,
    /// workflow and user group ('' for none) — the job's, or for a deleted job those copied into the row — and whether
    /// the job was deleted.
    /// </summary>
    public const string RawCallColumns = """
        (u.created_at AT TIME ZONE 'UTC')::date AS day, u.created_at, u.model, coalesce(j.tenant_id, u.tenant_id, '') AS tenant_id,
        coalesce(j.workflow_name, u.workflow_name, '') AS workflow_name, coalesce(j.user_id, u.user_id, '') AS user_id,
        CASE WHEN coalesce(j.user_id, u.user_id) IS NOT NULL THEN '' WHEN coalesce(j.username, u.username) IS NOT NULL
             THEN 'n:' || coalesce(j.username, u.username) ELSE 'none' END AS user_key,
        coalesce(j.username, u.username) AS username, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd,
        u.job_deleted_at IS NOT NULL AS job_deleted
        """;

    /// <summary>
    /// CTEs that keep the calls of the jobs a DELETE removes in the ledger: <paramref name="doomed"/> names an earlier
    /// CTE returning the deleted jobs' <c>id, tenant_id, workflow_name, user_id, username</c>. Their usage rows take
    /// those keys (so every report still counts them under the same tenant, workflow and user) and
    /// <paramref name="deletedAt"/> as <c>job_deleted_at</c>; the rollup's day rows that hold them already count them as
    /// from deleted jobs. The state row is read FOR SHARE, so a rollup of the same days waits or is waited for.
    /// </summary>
    public static string KeepDeletedJobsUsageSql(string doomed, string deletedAt) => $"""
        rollup_state AS (SELECT rolled_until FROM llm_usage_rollup_state FOR SHARE),
        orphaned AS (
            UPDATE llm_provider_usage u
               SET tenant_id = j.tenant_id, workflow_name = j.workflow_name, user_id = j.user_id, username = j.username,
                   job_deleted_at = {deletedAt}
              FROM {doomed} j
             WHERE u.job_id = j.id
            RETURNING (u.created_at AT TIME ZONE 'UTC')::date AS day, u.created_at, u.model, u.tenant_id, u.workflow_name, u.cost_usd
        ),
        deleted_daily AS (
            UPDATE llm_usage_daily r
               SET deleted_calls = r.deleted_calls + g.calls, deleted_cost_usd = r.deleted_cost_usd + g.cost_usd
              FROM (SELECT o.day, o.tenant_id, o.model, o.workflow_name, count(*) AS calls, sum(o.cost_usd) AS cost_usd
                      FROM orphaned o, rollup_state s
                     WHERE o.created_at < s.rolled_until
                     GROUP BY o.day, o.tenant_id, o.model, o.workflow_name) g
             WHERE r.day = g.day AND r.tenant_id = g.tenant_id AND r.model = g.model AND r.workflow_name = g.workflow_name
        )
        """;

    /// <summary>
    /// The usage retention: deletes the calls, and the rollup rows, of the calendar months (UTC) that ended before
    /// <paramref name="cutoff"/>'s month began — whole months, so no report's month or day is left half counted — in
    /// statements of at most <paramref name="batchSize"/> calls; returns the calls deleted.
    /// </summary>
    public async Task<int> PurgeBeforeAsync(DateTimeOffset cutoff, int batchSize, CancellationToken cancellationToken)
    {
        var monthStart = new DateOnly(cutoff.UtcDateTime.Year, cutoff.UtcDateTime.Month, 1);
        var before = Midnight(monthStart);
        var purged = await Persistence.BatchedDelete.RunAsync(dataSource, PurgeCallsSql, before, batchSize, cancellationToken);

        await using (var rollup = dataSource.CreateBatch())
        {
            foreach (var sql in new[]
                     {
                         PurgeDailySql, PurgeUserDailySql, PurgeUserMonthlySql,
                     })
            {
                rollup.BatchCommands.Add(new NpgsqlBatchCommand(sql) { Parameters = { new NpgsqlParameter { Value = monthStart } } });
            }

            await rollup.ExecuteNonQueryAsync(cancellationToken);
        }

        return purged;
    }

    private async Task<DateTimeOffset?> FirstUsageHourAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(FirstUsageSql);
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime first ? FloorHour(new DateTimeOffset(first.ToUniversalTime(), TimeSpan.Zero)) : null;
    }

    public static DateTimeOffset Midnight(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    private static DateOnly NextMonth(DateOnly day) => new DateOnly(day.Year, day.Month, 1).AddMonths(1);

    /// <summary>The midnight that starts the month after <paramref name="instant"/>'s.</summary>
    private static DateTimeOffset MonthEnd(DateTimeOffset instant) => Midnight(NextMonth(DateOnly.FromDateTime(instant.UtcDateTime)));

    private static DateTimeOffset FloorHour(DateTimeOffset instant) =>
        new(instant.UtcDateTime.Date.AddHours(instant.UtcDateTime.Hour), TimeSpan.Zero);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>What a rebuild reached: the instant up to which the days asked for now hold the raw calls (null when the
/// rollup held none of them), and the rollup's end (null when nothing is rolled up yet).</summary>
public sealed record UsageRollupRebuild(DateTimeOffset? RebuiltUntil, DateTimeOffset? RolledUntil);
