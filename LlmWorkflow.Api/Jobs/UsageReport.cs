using System.Globalization;
using System.Text;
using Npgsql;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Jobs;

/// <summary>One group of an aggregated usage report.</summary>
public sealed record UsageGroup(string Key, int Calls, long InputTokens, long OutputTokens, long TotalTokens, decimal CostUsd)
{
    /// <summary>By user only: the user id of the group (null when its jobs named only a username).</summary>
    public string? UserId { get; init; }

    /// <summary>By user only: the username its jobs were submitted with (the most recent one if it changed).</summary>
    public string? Username { get; init; }

    /// <summary>
    /// Of <see cref="Calls"/>, those whose job has been deleted since (still counted: what a provider billed stays in
    /// the ledger); null in by_user.
    /// </summary>
    public int? DeletedJobCalls { get; init; }

    /// <summary>Of <see cref="CostUsd"/>, the cost of <see cref="DeletedJobCalls"/>; null in by_user.</summary>
    public decimal? DeletedJobCostUsd { get; init; }
}

/// <summary>Spend and tokens over a period, grouped four ways, from <c>llm_provider_usage</c>.</summary>
public sealed record UsageReportResult(
    DateTimeOffset From,
    DateTimeOffset To,
    UsageGroup Total,
    IReadOnlyList<UsageGroup> ByModel,
    IReadOnlyList<UsageGroup> ByWorkflow,
    IReadOnlyList<UsageGroup> ByUser,
    IReadOnlyList<UsageGroup> ByDay)
{
    /// <summary>How many user groups had usage in the period (<see cref="ByUser"/> lists a page of them).</summary>
    public int UserCount { get; init; }

    /// <summary>What the figures count, in a sentence (the Costs view shows it).</summary>
    public string Counts { get; init; } = "";

    /// <summary>How long calls are kept (<c>Maintenance:UsageRetention</c>): a period reaching further back counts fewer.</summary>
    public int UsageRetentionDays { get; init; }
}

/// <summary>
/// Builds the admin usage/cost report: the full days the rollup holds (<see cref="UsageRollup"/>) from its sums, the
/// rest of the period (its partial first day, or that day's rollup rows minus its calls before the start, and
/// everything since the rollup's last day) from the raw rows; all summed by PostgreSQL. The answer equals summing the
/// raw rows of the period.
/// </summary>
public sealed class UsageReport(NpgsqlDataSource dataSource, Microsoft.Extensions.Options.IOptions<MaintenanceOptions> maintenance)
{
    /// <summary>Users listed by default (the most expensive first); the rest are summed in one "(others)" group.</summary>
    public const int DefaultUserLimit = 100;

    public const int MaxUserLimit = 10_000;

    /// <summary>The key of the group summing the users after the listed page.</summary>
    public const string OthersKey = "(others)";

    // Calls recorded without a job (none are written so; imports): no tenant or workflow.
    private const string NoJobWorkflow = "(no job)";

    /// <param name="tenantId">Only this tenant's calls (deleted jobs' calls included); null: all.</param>
    /// <param name="userLimit">Users listed in <see cref="UsageReportResult.ByUser"/>, most expensive first.</param>
    /// <param name="userOffset">Users skipped before the listed ones (paging through <see cref="UsageReportResult.UserCount"/>).</param>
    public async Task<UsageReportResult> BuildAsync(
        DateTimeOffset start, DateTimeOffset end, string? tenantId, CancellationToken cancellationToken,
        int userLimit = DefaultUserLimit, int userOffset = 0)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for the rollup's state and both queries (a rollup committing meanwhile is either wholly seen
        // or not at all, so no day is counted twice), and enough work_mem for the per-user sums (a few hundred thousand
        // rollup rows at 10 M jobs) to sort and hash in memory instead of spilling at the default 4 MB.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        DateTimeOffset? rolledUntil = null;
        await using (var state = TransactionSettings.Batch(connection, transaction,
            ["SET LOCAL work_mem = '64MB'", TransactionSettings.NoJit], UsageRollup.RolledUntilSql))
        await using (var reader = await state.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                rolledUntil = reader.Field<DateTimeOffset>("rolled_until");
            }
        }

        var plan = Plan(start, end, rolledUntil);
        var retentionDays = (int)Math.Round(maintenance.Value.UsageRetention.TotalDays);

        var cells = await DimensionCellsAsync(connection, plan, tenantId, cancellationToken);
        var (users, userCount) = await UsersAsync(connection, plan, tenantId, userLimit, userOffset, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new UsageReportResult(
            start, end,
            Sum("total", cells),
            By(cells, c => c.Model),
            By(cells, c => c.Workflow.Length == 0 ? NoJobWorkflow : c.Workflow),
            users,
            cells.GroupBy(c => c.Day).OrderBy(g => g.Key)
                .Select(g => Sum(g.Key.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), g)).ToArray())
        {
            UserCount = userCount,
            UsageRetentionDays = retentionDays,
            Counts = CountsSentence(retentionDays),
        };
    }

    /// <summary>The report's statement of what it counts (<see cref="UsageReportResult.Counts"/>).</summary>
    public static string CountsSentence(int retentionDays) =>
        "Every answered LLM call in the period, at the price recorded with it (cached answers at $0), including the calls of jobs " +
        $"deleted since (deleted_job_calls, deleted_job_cost_usd: their share); calls are kept {retentionDays} days (the usage retention), " +
        "whatever happens to their jobs.";

    /// <summary>
    /// Which parts of [start, end) come from where: the days [FirstDay, EndDay) from the rollup (per-user sums from
    /// month rows where a rolled month is in the period to its last rolled day — minus the day rows before the period
    /// when that reads fewer days than adding the period's days), and the raw ranges (at most two: the partial first
    /// day, and everything from the rollup's end) from <c>llm_provider_usage</c>. The rollup's last day may be partly
    /// rolled (its rows hold the calls before <paramref name="rolledUntil"/>): it is used only by a period that runs
    /// past the rollup's end. The partial first day, when the rollup holds all of it and the period starts in its first
    /// half, is its rollup rows minus its raw rows before the start instead: at most half a day of raw rows, where
    /// summing the rest of the day would read up to a whole day's (each call joined to its job: at 10 M jobs most of
    /// a report's time). A period ending now thus reads at most about
    /// half a month of per-user day rows, half a day of raw rows before its start and an hour or two of raw rows at its
    /// end (the rollup runs with scheduled maintenance, hourly by default).
    /// </summary>
    internal static ReportPlan Plan(DateTimeOffset start, DateTimeOffset end, DateTimeOffset? rolledUntil)
    {
        var firstDay = DateOnly.FromDateTime(start.UtcDateTime);
        if (UsageRollup.Midnight(firstDay) < start)
        {
            firstDay = firstDay.AddDays(1);
        }

        if (rolledUntil is not { } rolled)
        {
            return new ReportPlan(start, firstDay, firstDay, [], [], [], [(start, end)]);
        }

        // The first day with no rollup rows (the day after a partly rolled one).
        var rolledDays = DateOnly.FromDateTime((rolled - TimeSpan.FromTicks(1)).UtcDateTime).AddDays(1);
        DateOnly endDay;
        DateTimeOffset rawTail;
        if (end >= rolled)
        {
            (endDay, rawTail) = (rolledDays, rolled);
        }
        else
        {
            endDay = DateOnly.FromDateTime(end.UtcDateTime);
            rawTail = UsageRollup.Midnight(endDay);
        }

        if (firstDay >= endDay)
        {
            return new ReportPlan(start, firstDay, firstDay, [], [], [], [(start, end)]);
        }

        // The partial first day as its (complete) rollup rows minus the calls before the start, when those are fewer.
        var headDay = firstDay.AddDays(-1);
        var headStart = UsageRollup.Midnight(headDay);
        var subtractHead = start > headStart && start - headStart < UsageRollup.Midnight(firstDay) - start
            && headDay < DateOnly.FromDateTime(rolled.UtcDateTime);
        var rollupFirstDay = subtractHead ? headDay : firstDay;

        var (months, plusDays, minusDays) = RollupRows(rollupFirstDay, endDay, rolledDays);

        var raw = new List<(DateTimeOffset, DateTimeOffset)>();
        if (!subtractHead && start < UsageRollup.Midnight(firstDay))
        {
            raw.Add((start, UsageRollup.Midnight(firstDay)));
        }

        if (rawTail < end)
        {
            raw.Add((rawTail, end));
        }

        return new ReportPlan(start, rollupFirstDay, endDay, months, plusDays, minusDays, raw);
    }

    /// <summary>
    /// The rollup rows that cover [<paramref name="firstDay"/>, <paramref name="endDay"/>): whole month rows (less the
    /// days before the period) where that reads fewer rows, the period's day rows otherwise.
    /// </summary>
    private static (List<DateOnly> Months, List<DateOnly> PlusDays, List<DateOnly> MinusDays) RollupRows(
        DateOnly firstDay, DateOnly endDay, DateOnly rolledDays)
    {
        var months = new List<DateOnly>();
        var plusDays = new List<DateOnly>();
        var minusDays = new List<DateOnly>();
        for (var month = new DateOnly(firstDay.Year, firstDay.Month, 1); month < endDay; month = month.AddMonths(1))
        {
            // The month row holds the month's rolled days: [month, min(next month, rolled until)).
            var monthEnd = month.AddMonths(1) < rolledDays ? month.AddMonths(1) : rolledDays;
            var partStart = firstDay > month ? firstDay : month;
            var partEnd = endDay < monthEnd ? endDay : monthEnd;
            var inside = partEnd.DayNumber - partStart.DayNumber;
            var outside = monthEnd.DayNumber - month.DayNumber - inside;
            // Month minus the days before the period only: a month row's latest username is then the period's
            // whenever it falls in the period (and the period's part has no username otherwise); days after the period
            // could hide a later username, so such a month is summed from its days.
            if (outside < inside && partEnd == monthEnd)
            {
                months.Add(month);
                for (var day = month; day < monthEnd; day = day.AddDays(1))
                {
                    if (day < partStart || day >= partEnd)
                    {
                        minusDays.Add(day);
                    }
                }
            }
            else
            {
                for (var day = partStart; day < partEnd; day = day.AddDays(1))
                {
                    plusDays.Add(day);
                }
            }
        }

        return (months, plusDays, minusDays);
    }

    /// <summary>Sums per (day, model, workflow) of the period: rollup days plus raw ranges.</summary>
    private static async Task<List<Cell>> DimensionCellsAsync(NpgsqlConnection connection, ReportPlan plan, string? tenantId, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"""
            SELECT day, model, workflow_name, sum(calls)::int AS calls, sum(input_tokens)::bigint AS input_tokens,
                   sum(output_tokens)::bigint AS output_tokens, sum(total_tokens)::bigint AS total_tokens, sum(cost_usd) AS cost_usd,
                   sum(deleted_calls)::int AS deleted_calls, sum(deleted_cost_usd) AS deleted_cost_usd
              FROM (SELECT day, model, workflow_name, calls, input_tokens, output_tokens, total_tokens, cost_usd, deleted_calls, deleted_cost_usd
                      FROM llm_usage_daily WHERE day >= @first_day AND day < @end_day{(tenantId is null ? "" : " AND tenant_id = @tenant")}
            """);
        AppendRaw(sql, plan, tenantId,
            "day, model, workflow_name, 1, input_tokens, output_tokens, total_tokens, cost_usd, job_deleted::int, CASE WHEN job_deleted THEN cost_usd ELSE 0 END",
            "day, model, workflow_name, -1, -input_tokens, -output_tokens, -total_tokens, -cost_usd, -job_deleted::int, CASE WHEN job_deleted THEN -cost_usd ELSE 0 END");
        sql.Append(") x GROUP BY day, model, workflow_name HAVING sum(calls) <> 0");
        await using var command = Command(connection, sql.ToString(), plan, tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var cells = new List<Cell>();
        while (await reader.ReadAsync(cancellationToken))
        {
            cells.Add(Cell.Read(reader));
        }

        return cells;
    }

    /// <summary>
    /// Per-user sums, ranked by cost (then key) in PostgreSQL: the requested page, then one "(others)" group for the
    /// rest; and how many user groups there are.
    /// </summary>
    private static async Task<(IReadOnlyList<UsageGroup> Users, int Count)> UsersAsync(
        NpgsqlConnection connection, ReportPlan plan, string? tenantId, int limit, int offset, CancellationToken cancellationToken)
    {
        var tenant = tenantId is null ? "" : " AND tenant_id = @tenant";
        var sql = new StringBuilder($"""
            WITH calls AS (
                SELECT user_id, user_key, calls, input_tokens, output_tokens, total_tokens, cost_usd,
                       CASE WHEN username_at >= @first_instant THEN username END AS username,
                       CASE WHEN username_at >= @first_instant THEN username_at END AS username_at
                  FROM llm_usage_user_monthly WHERE month = ANY(@months){tenant}
                UNION ALL
                SELECT user_id, user_key, calls, input_tokens, output_tokens, total_tokens, cost_usd,
                       CASE WHEN username_at >= @first_instant THEN username END,
                       CASE WHEN username_at >= @first_instant THEN username_at END
                  FROM llm_usage_user_daily WHERE day = ANY(@plus_days){tenant}
                UNION ALL
                SELECT user_id, user_key, -calls, -input_tokens, -output_tokens, -total_tokens, -cost_usd, NULL, NULL
                  FROM llm_usage_user_daily WHERE day = ANY(@minus_days){tenant}
            """);
        AppendRaw(sql, plan, tenantId,
            "user_id, user_key, 1, input_tokens, output_tokens, total_tokens, cost_usd, username, created_at",
            "user_id, user_key, -1, -input_tokens, -output_tokens, -total_tokens, -cost_usd, NULL, NULL");
        sql.Append("""
            ), users AS (
                SELECT user_id, user_key, sum(calls) AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
                       sum(total_tokens) AS total_tokens, sum(cost_usd) AS cost_usd,
                       (array_agg(username ORDER BY username_at DESC) FILTER (WHERE username IS NOT NULL))[1] AS username,
                       CASE WHEN user_key = '' THEN user_id WHEN user_key = 'none' THEN '(none)' ELSE substr(user_key, 3) END AS key
                  FROM calls GROUP BY user_id, user_key HAVING sum(calls) <> 0
            ), ranked AS MATERIALIZED (
                SELECT *, row_number() OVER (ORDER BY cost_usd DESC, key COLLATE "C") AS rank, count(*) OVER () AS user_count FROM users
            )
            SELECT key, user_key, username, calls::int AS calls, input_tokens::bigint AS input_tokens, output_tokens::bigint AS output_tokens,
                   total_tokens::bigint AS total_tokens, cost_usd, rank, user_count::int AS user_count
              FROM ranked WHERE rank > @offset AND rank <= @offset + @limit
            UNION ALL
            SELECT NULL, NULL, NULL, sum(calls)::int, sum(input_tokens)::bigint, sum(output_tokens)::bigint, sum(total_tokens)::bigint, sum(cost_usd),
                   NULL, max(user_count)::int
              FROM ranked WHERE rank <= @offset OR rank > @offset + @limit HAVING count(*) > 0
             ORDER BY rank NULLS LAST
            """);
        await using var command = Command(connection, sql.ToString(), plan, tenantId);
        command.Parameters.AddWithValue("months", plan.Months.ToArray());
        // A rollup row's latest username counts when that call is in the period: a day or month row may reach back
        // before the start (the first day's rows, a month minus its days before the period).
        command.Parameters.AddWithValue("first_instant", plan.Start);
        command.Parameters.AddWithValue("plus_days", plan.PlusDays.ToArray());
        command.Parameters.AddWithValue("minus_days", plan.MinusDays.ToArray());
        command.Parameters.AddWithValue("limit", (long)limit);
        command.Parameters.AddWithValue("offset", (long)offset);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var users = new List<UsageGroup>();
        var count = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            count = reader.Field<int>("user_count");
            var listed = reader.FieldOrNull<string>("key") is not null;
            var key = reader.FieldOrNull<string>("key") ?? OthersKey;
            users.Add(new UsageGroup(key, reader.Field<int>("calls"), reader.Field<long>("input_tokens"), reader.Field<long>("output_tokens"),
                reader.Field<long>("total_tokens"), reader.Field<decimal>("cost_usd"))
            {
                UserId = listed && reader.Field<string>("user_key").Length == 0 ? key : null,
                Username = reader.FieldOrNull<string>("username"),
            });
        }

        return (users, count);
    }

    /// <summary>
    /// Appends the raw ranges of the plan as UNION ALL branches selecting <paramref name="columns"/> of the raw call
    /// columns, and its subtracted ranges selecting <paramref name="subtractedColumns"/>.
    /// </summary>
    private static void AppendRaw(StringBuilder sql, ReportPlan plan, string? tenantId, string columns, string subtractedColumns)
    {
        var ranges = plan.Raw.Select((range, i) => (Columns: columns, Name: $"raw_{i}"))
            .Concat(plan.RawSubtracted.Select((range, i) => (Columns: subtractedColumns, Name: $"subtracted_{i}")));
        foreach (var (selected, name) in ranges)
        {
            sql.Append(CultureInfo.InvariantCulture, $"""

                UNION ALL
                SELECT {selected} FROM (
                    SELECT {UsageRollup.RawCallColumns}
                      FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON j.id = u.job_id
                     WHERE u.created_at >= @{name}_from AND u.created_at < @{name}_to) {name}{(tenantId is null ? "" : " WHERE tenant_id = @tenant")}
                """);
        }
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, ReportPlan plan, string? tenantId)
    {
        var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("first_day", plan.FirstDay);
        command.Parameters.AddWithValue("end_day", plan.EndDay);
        if (tenantId is not null)
        {
            command.Parameters.AddWithValue("tenant", tenantId);
        }

        for (var i = 0; i < plan.Raw.Count; i++)
        {
            command.Parameters.AddWithValue($"raw_{i}_from", plan.Raw[i].From);
            command.Parameters.AddWithValue($"raw_{i}_to", plan.Raw[i].To);
        }

        for (var i = 0; i < plan.RawSubtracted.Count; i++)
        {
            command.Parameters.AddWithValue($"subtracted_{i}_from", plan.RawSubtracted[i].From);
            command.Parameters.AddWithValue($"subtracted_{i}_to", plan.RawSubtracted[i].To);
        }

        return command;
    }

    private static UsageGroup Sum(string key, IEnumerable<Cell> cells)
    {
        var list = cells as IReadOnlyCollection<Cell> ?? cells.ToList();
        return new UsageGroup(key, list.Sum(c => c.Calls), list.Sum(c => c.InputTokens), list.Sum(c => c.OutputTokens), list.Sum(c => c.TotalTokens),
            list.Sum(c => c.CostUsd))
        {
            DeletedJobCalls = list.Sum(c => c.DeletedCalls),
            DeletedJobCostUsd = list.Sum(c => c.DeletedCostUsd),
        };
    }

    private static IReadOnlyList<UsageGroup> By(IEnumerable<Cell> cells, Func<Cell, string> key) =>
        cells.GroupBy(key).Select(g => Sum(g.Key, g))
            .OrderByDescending(g => g.CostUsd).ThenBy(g => g.Key, StringComparer.Ordinal).ToArray();

    private sealed record Cell(DateOnly Day, string Model, string Workflow, int Calls, long InputTokens, long OutputTokens, long TotalTokens, decimal CostUsd,
        int DeletedCalls, decimal DeletedCostUsd)
    {
        public static Cell Read(NpgsqlDataReader reader) => new(
            reader.Field<DateOnly>("day"), reader.Field<string>("model"), reader.Field<string>("workflow_name"), reader.Field<int>("calls"),
            reader.Field<long>("input_tokens"), reader.Field<long>("output_tokens"), reader.Field<long>("total_tokens"),
            reader.Field<decimal>("cost_usd"), reader.Field<int>("deleted_calls"), reader.Field<decimal>("deleted_cost_usd"));
    }
}

/// <summary>Where each part of a report's period is summed from (see <see cref="UsageReport.Plan"/>).</summary>
/// <param name="Start">The period's start.</param>
/// <param name="FirstDay">The first day summed from the rollup (the partial first day when its raw rows before the start are subtracted).</param>
internal sealed record ReportPlan(
    DateTimeOffset Start,
    DateOnly FirstDay,
    DateOnly EndDay,
    IReadOnlyList<DateOnly> Months,
    IReadOnlyList<DateOnly> PlusDays,
    IReadOnlyList<DateOnly> MinusDays,
    IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> Raw)
{
    /// <summary>Summed from the rollup but before the period (the first day's calls before the start): subtracted.</summary>
    public IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> RawSubtracted =>
        UsageRollup.Midnight(FirstDay) < Start ? [(UsageRollup.Midnight(FirstDay), Start)] : [];
}
