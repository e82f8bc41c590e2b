using Npgsql;

namespace LlmWorkflow.Engine.Jobs;

/// <summary>
/// Sums of <c>llm_provider_usage</c> per closed UTC day, and per closed month, for each dimension of the usage report
/// (model, workflow, user), in <c>llm_usage_rollup</c>; <c>llm_usage_rollup_state.rolled_through</c> is the first day
/// not rolled up. The report reads closed periods from here instead of aggregating millions of rows, and the spend
/// stays reported after retention deletes the jobs (and with them their usage rows).
/// </summary>
/// <remarks>
/// A day is closed one hour after it ends (<see cref="ClosedAfter"/>): usage rows are stamped with the writing
/// transaction's start, which is never that far behind its commit. A row inserted later with an older
/// <c>created_at</c> than the watermark is not counted in the rollup.
/// </remarks>
public sealed class UsageRollup(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan ClosedAfter = TimeSpan.FromHours(1);

    // Arbitrary constant: "LLMWUROL" in ASCII. One session rolls up at a time; others read what is there.
    private const long LockKey = 0x4C4C4D5755524F4C;

    /// <summary>The usage row of one call, with its job's workflow and user ("(deleted)" when the job row is gone).</summary>
    public const string UsageRowsSql = """
        SELECT (u.created_at AT TIME ZONE 'UTC')::date AS day, u.model, COALESCE(j.workflow_name, '(deleted)') AS workflow,
               j.user_id, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd
          FROM llm_provider_usage u
          LEFT JOIN llm_workflow_jobs j ON j.id = u.job_id
        """;

    /// <summary>The first day not rolled up, or null before the first roll-up.</summary>
    public async Task<DateOnly?> WatermarkAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT rolled_through FROM llm_usage_rollup_state");
        return AsDay(await command.ExecuteScalarAsync(cancellationToken));
    }

    /// <summary>
    /// Rolls up the closed days not rolled up yet, at most <paramref name="maxDays"/> of them (null: all), one month
    /// per transaction. Returns the watermark after it, or the current one when another session is rolling up.
    /// </summary>
    public async Task<DateOnly?> RollUpAsync(int? maxDays, CancellationToken cancellationToken)
    {
        var target = DateOnly.FromDateTime((time.GetUtcNow() - ClosedAfter).UtcDateTime);
        var remaining = maxDays ?? int.MaxValue;
        while (true)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            if (!await ScalarAsync<bool>(connection, "SELECT pg_try_advisory_xact_lock($1)", cancellationToken, LockKey))
            {
                return await WatermarkAsync(cancellationToken);
            }

            var watermark = AsDay(await ScalarAsync<object>(connection, "SELECT rolled_through FROM llm_usage_rollup_state", cancellationToken));
            if (watermark is null)
            {
                // First roll-up: start at the oldest usage row (or at the target when there is none).
                var oldest = await ScalarAsync<object>(connection, "SELECT min(created_at) FROM llm_provider_usage", cancellationToken);
                watermark = oldest is DateTime first && DateOnly.FromDateTime(first.ToUniversalTime()) < target ? DateOnly.FromDateTime(first.ToUniversalTime()) : target;
                await ExecuteAsync(connection, "INSERT INTO llm_usage_rollup_state (id, rolled_through) VALUES (1, $1)", cancellationToken, watermark.Value);
            }

            var from = watermark.Value;
            if (from >= target || remaining <= 0)
            {
                await transaction.CommitAsync(cancellationToken);
                return from;
            }

            var nextMonth = new DateOnly(from.Year, from.Month, 1).AddMonths(1);
            var to = new[] { target, nextMonth, from.AddDays(Math.Min(remaining, 31)) }.Min();
            await ExecuteAsync(connection, $"""
                INSERT INTO llm_usage_rollup (granularity, period, dimension, key, calls, input_tokens, output_tokens, total_tokens, cost_usd)
                SELECT 'd', day,
                       CASE WHEN GROUPING(model) = 0 THEN 'model' WHEN GROUPING(workflow) = 0 THEN 'workflow' ELSE 'user' END,
                       CASE WHEN GROUPING(model) = 0 THEN model WHEN GROUPING(workflow) = 0 THEN workflow ELSE user_id END,
                       count(*), sum(input_tokens), sum(output_tokens), sum(total_tokens), sum(cost_usd)
                  FROM ({UsageRowsSql} WHERE u.created_at >= $1 AND u.created_at < $2) usage
                 GROUP BY GROUPING SETS ((day, model), (day, workflow), (day, user_id))
                """, cancellationToken, Instant(from), Instant(to));
            if (to == nextMonth)
            {
                // The month is complete: its sums once more per month, so long reports read one row per key and month.
                await ExecuteAsync(connection, """
                    INSERT INTO llm_usage_rollup (granularity, period, dimension, key, calls, input_tokens, output_tokens, total_tokens, cost_usd)
                    SELECT 'm', $1, dimension, key, sum(calls), sum(input_tokens), sum(output_tokens), sum(total_tokens), sum(cost_usd)
                      FROM llm_usage_rollup
                     WHERE granularity = 'd' AND period >= $1 AND period < $2
                     GROUP BY dimension, key
                    """, cancellationToken, nextMonth.AddMonths(-1), nextMonth);
            }

            await ExecuteAsync(connection, "UPDATE llm_usage_rollup_state SET rolled_through = $1", cancellationToken, to);
            await transaction.CommitAsync(cancellationToken);
            remaining -= to.DayNumber - from.DayNumber;
        }
    }

    private static DateOnly? AsDay(object? value) => value switch
    {
        DateOnly day => day,
        DateTime day => DateOnly.FromDateTime(day),
        _ => null,
    };

    /// <summary>Midnight UTC starting <paramref name="day"/>.</summary>
    public static DateTimeOffset Instant(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
