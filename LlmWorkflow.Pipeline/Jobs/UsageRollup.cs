using Npgsql;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// The usage report's rollup: sums of <c>llm_provider_usage</c> per UTC day (by tenant, model and workflow; and by
/// tenant and user group) and per month (by tenant and user group). Built off the hot path by scheduled maintenance,
/// an hour at a time once the hour has been over for <see cref="Grace"/>, and kept equal to the raw rows: every call
/// before <c>llm_usage_rollup_state.rolled_until</c> is in it (so the open day's rows hold its rolled hours), deletes
/// of jobs subtract their calls in the same statement (<see cref="SubtractDeletedJobsSql"/>), and
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

    /// <summary>The instant up to which every call is in the rollup (an hour boundary), or null before the first run.</summary>
    public async Task<DateTimeOffset?> RolledUntilAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT rolled_until FROM llm_usage_rollup_state");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? reader.GetFieldValue<DateTimeOffset>(0) : null;
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
            await using var command = dataSource.CreateCommand("""
                INSERT INTO llm_usage_rollup_state (rolled_until, updated_at) VALUES ($1, now())
                ON CONFLICT (id) DO NOTHING
                """);
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
        await ExecuteAsync(connection, transaction, """
            INSERT INTO llm_usage_rollup_state (rolled_until, updated_at) VALUES ($1, now())
            ON CONFLICT (id) DO UPDATE SET updated_at = now()
            """, cancellationToken, from);
        await ExecuteAsync(connection, transaction, "SET LOCAL work_mem = '64MB'", cancellationToken);
        var firstDay = DateOnly.FromDateTime(from.UtcDateTime);
        var month = new DateOnly(firstDay.Year, firstDay.Month, 1);
        if (rebuild)
        {
            var endDay = DateOnly.FromDateTime((until - TimeSpan.FromTicks(1)).UtcDateTime).AddDays(1);
            await ExecuteAsync(connection, transaction, "DELETE FROM llm_usage_daily WHERE day >= $1 AND day < $2", cancellationToken, firstDay, endDay);
            await ExecuteAsync(connection, transaction, "DELETE FROM llm_usage_user_daily WHERE day >= $1 AND day < $2", cancellationToken, firstDay, endDay);
        }

        await ExecuteAsync(connection, transaction, $"""
            WITH calls AS MATERIALIZED (
                SELECT {RawCallColumns}
                  FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON j.id = u.job_id
                 WHERE u.created_at >= $1 AND u.created_at < $2
            ), by_dimension AS (
                INSERT INTO llm_usage_daily AS r (day, tenant_id, model, workflow_name, calls, input_tokens, output_tokens, total_tokens, cost_usd)
                SELECT day, tenant_id, model, workflow_name, count(*), sum(input_tokens), sum(output_tokens), sum(total_tokens), sum(cost_usd)
                  FROM calls GROUP BY day, tenant_id, model, workflow_name
                ON CONFLICT (day, tenant_id, model, workflow_name) DO UPDATE SET {AddSums}
            ){(rebuild ? "" : $"""
            , by_user_month AS (
                {UserSumsSql("llm_usage_user_monthly", "date_trunc('month', day::timestamp)::date", "month")}
            )
            """)}
            {UserSumsSql("llm_usage_user_daily", "day", "day")}
            """, cancellationToken, from, until);
        if (rebuild)
        {
            await ExecuteAsync(connection, transaction, "DELETE FROM llm_usage_user_monthly WHERE month = $1", cancellationToken, month);
            await ExecuteAsync(connection, transaction, """
                INSERT INTO llm_usage_user_monthly (month, tenant_id, user_id, user_key, calls, input_tokens, output_tokens, total_tokens, cost_usd, username, username_at)
                SELECT $1, tenant_id, user_id, user_key, sum(calls), sum(input_tokens), sum(output_tokens), sum(total_tokens), sum(cost_usd),
                       (array_agg(username ORDER BY username_at DESC) FILTER (WHERE username IS NOT NULL))[1], max(username_at)
                  FROM llm_usage_user_daily WHERE day >= $1 AND day < $2
                 GROUP BY tenant_id, user_id, user_key
                """, cancellationToken, month, NextMonth(month));
        }
        else
        {
            await ExecuteAsync(connection, transaction, "UPDATE llm_usage_rollup_state SET rolled_until = $1", cancellationToken, until);
        }

        await transaction.CommitAsync(cancellationToken);
    }

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
    /// workflow and user group ('' for none).
    /// </summary>
    public const string RawCallColumns = """
        (u.created_at AT TIME ZONE 'UTC')::date AS day, u.created_at, u.model, coalesce(j.tenant_id, '') AS tenant_id,
        coalesce(j.workflow_name, '') AS workflow_name, coalesce(j.user_id, '') AS user_id,
        CASE WHEN j.user_id IS NOT NULL THEN '' WHEN j.username IS NOT NULL THEN 'n:' || j.username ELSE 'none' END AS user_key,
        j.username, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd
        """;

    /// <summary>
    /// CTEs that subtract from the rollup the calls of the jobs a DELETE removes (their usage rows go by cascade):
    /// <paramref name="doomed"/> names an earlier CTE returning the deleted jobs' <c>id, tenant_id, workflow_name,
    /// user_id, username</c>. The state row is read FOR SHARE, so a rollup of the same days waits or is waited for.
    /// </summary>
    public static string SubtractDeletedJobsSql(string doomed) => $"""
        rollup_state AS (SELECT rolled_until FROM llm_usage_rollup_state FOR SHARE),
        gone AS (
            -- month as a plain column: grouped by it, the planner probes the monthly table's primary key per group
            -- (grouped by the expression it scanned and hashed the whole table on every batch).
            SELECT {RawCallColumns}, date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date AS month
              FROM llm_provider_usage u JOIN {doomed} j ON u.job_id = j.id, rollup_state s
             WHERE u.created_at < s.rolled_until
        ),
        {SubtractSql("gone_daily", "llm_usage_daily", null, "day", "tenant_id", "model", "workflow_name")},
        {SubtractSql("gone_user_daily", "llm_usage_user_daily", ("day", "interval '1 day'", doomed), "day", "tenant_id", "user_id", "user_key")},
        {SubtractSql("gone_user_monthly", "llm_usage_user_monthly", ("month", "interval '1 month'", doomed), "month", "tenant_id", "user_id", "user_key")}
        """;

    /// <summary>
    /// One rollup table's UPDATE: the <c>gone</c> calls summed per the table's key, subtracted from its rows. For a
    /// per-user table (<paramref name="user"/>: the row's period column and length, and the deleted jobs' CTE), a user-id
    /// row whose latest username came from a deleted call takes the latest username among its remaining calls (none
    /// when no call remains), so the report's username is still that of the period's latest call.
    /// </summary>
    private static string SubtractSql(string name, string table, (string Period, string Length, string Doomed)? user, params string[] keys) => $"""
        {name} AS (
            UPDATE {table} r
               SET calls = r.calls - g.calls, input_tokens = r.input_tokens - g.input_tokens, output_tokens = r.output_tokens - g.output_tokens,
                   total_tokens = r.total_tokens - g.total_tokens, cost_usd = r.cost_usd - g.cost_usd{(user is not { } u ? "" : $"""
        ,
                   (username, username_at) = (
                       SELECT r.username, r.username_at WHERE (r.user_key = '' AND g.username_at >= r.username_at) IS NOT TRUE
                       UNION ALL
                       (SELECT j.username, u.created_at
                          FROM llm_workflow_jobs j JOIN llm_provider_usage u ON u.job_id = j.id
                         WHERE (r.user_key = '' AND g.username_at >= r.username_at) IS TRUE AND r.calls > g.calls
                           AND j.tenant_id = r.tenant_id AND j.user_id = r.user_id AND j.username IS NOT NULL
                           AND j.created_at < least((r.{u.Period} + {u.Length})::timestamp AT TIME ZONE 'UTC', s.rolled_until)
                           AND u.created_at >= r.{u.Period}::timestamp AT TIME ZONE 'UTC'
                           AND u.created_at < least((r.{u.Period} + {u.Length})::timestamp AT TIME ZONE 'UTC', s.rolled_until)
                           AND j.id NOT IN (SELECT id FROM {u.Doomed})
                         ORDER BY u.created_at DESC LIMIT 1))
        """)}
              FROM (SELECT {string.Join(", ", keys)}, count(*) AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
                           sum(total_tokens) AS total_tokens, sum(cost_usd) AS cost_usd,
                           max(created_at) FILTER (WHERE username IS NOT NULL) AS username_at
                      FROM gone GROUP BY {string.Join(", ", keys)}) g, rollup_state s
             WHERE {string.Join(" AND ", keys.Select(k => $"r.{k} = g.{k}"))}
        )
        """;

    private async Task<DateTimeOffset?> FirstUsageHourAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT min(created_at) FROM llm_provider_usage");
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
