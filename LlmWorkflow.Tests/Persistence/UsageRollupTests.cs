using LlmWorkflow.Engine.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;
using Npgsql;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>
/// The usage report reads closed days (and months) from the rollup and the rest from the usage rows: whichever
/// part a period falls in, the report equals the sums computed here from the rows the test wrote, and the spend of
/// jobs that retention deleted stays in it.
/// </summary>
public sealed class UsageRollupTests(TestServers servers) : IAsyncLifetime
{
    private static readonly string[] Models = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "mock/lorem"];
    private static readonly string[] Workflows = ["summarize", "translate"];
    private static readonly string?[] Users = ["ada", "linus", null];

    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() => _db = await LifecycleDatabase.CreateAsync(servers, nameof(UsageRollupTests), TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await _db.DisposeAsync();

    private sealed record Call(DateTimeOffset At, string Model, string Workflow, string? User, int Input, int Output, decimal Cost);

    [Fact]
    public async Task ReportEqualsTheRowSumsBeforeAndAfterRollUpAndAfterRetention()
    {
        var ct = TestContext.Current.CancellationToken;
        var now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()); // whole seconds: PostgreSQL keeps microseconds
        // Calls every 7 h 13 min over 100 days (across month ends and into the current, unclosed day), each on its own
        // finished job created when the call was made; plus one call whose job row is gone (job_id NULL).
        var calls = new List<Call>();
        for (var i = 0; now.AddDays(-100).AddMinutes(433 * i) < now; i++)
        {
            var at = now.AddDays(-100).AddMinutes(433 * i);
            calls.Add(new Call(at, Models[i % 3], Workflows[i % 2], Users[i % 3], 100 + i, 10 + (i % 7), 0.000123m * (1 + (i % 5))));
        }

        foreach (var call in calls)
        {
            await InsertAsync(call, ct);
        }

        var orphan = new Call(now.AddDays(-50), "openai/gpt-4o", "(deleted)", null, 7, 3, 0.5m);
        await InsertAsync(orphan, ct, withJob: false);
        calls.Add(orphan);

        DateTimeOffset[][] periods =
        [
            [new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero), now],
            [now.AddDays(-30), now],
            [now.AddDays(-75).AddHours(-5), now.AddDays(-3).AddHours(7)],
            [now.AddDays(-2).AddHours(-3), now.AddMinutes(-10)],
        ];

        // First reports: the rollup is empty, then filled 31 days per report.
        foreach (var period in periods)
        {
            await AssertReportAsync(calls, period[0], period[1], ct);
        }

        // Maintenance's retention rolls up every closed day first; then the reports read whole months from it.
        var jobsBefore = await CountAsync("SELECT count(*) FROM llm_workflow_jobs", ct);
        var deleted = await _db.MaintenanceAsync(m => m.DeleteFinishedAsync(TimeSpan.FromDays(40), ct, batchSize: 7));
        Assert.True(deleted.Deleted > 100, $"deleted {deleted.Deleted}");
        Assert.Equal(jobsBefore - deleted.Deleted, await CountAsync("SELECT count(*) FROM llm_workflow_jobs", ct));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE created_at < now() - interval '40 days'", ct));
        Assert.Equal(deleted.Deleted, calls.Count - 1 - await CountAsync("SELECT count(*) FROM llm_provider_usage WHERE job_id IS NOT NULL", ct));
        Assert.True(await CountAsync("SELECT count(*) FROM llm_usage_rollup WHERE granularity = 'm'", ct) > 0);

        // The deleted jobs' usage rows went with them, and their spend is still reported for whole days. A partial
        // first day is summed from the rows (the rollup has whole days only), so there only the remaining calls count.
        var remaining = await RemainingCallTimesAsync(ct);
        foreach (var period in periods)
        {
            var partialFirstDay = period[0].UtcDateTime.TimeOfDay == TimeSpan.Zero ? (DateTime?)null : period[0].UtcDateTime.Date;
            var counted = calls.Where(c => c.At.UtcDateTime.Date != partialFirstDay || remaining.Contains(c.At.UtcTicks / 10)).ToList();
            await AssertReportAsync(counted, period[0], period[1], ct);
        }

        Assert.Contains(calls, c => c.At >= periods[2][0] && c.At.UtcDateTime.Date == periods[2][0].UtcDateTime.Date && !remaining.Contains(c.At.UtcTicks / 10));
    }

    /// <summary>The created_at of every usage row still stored, in microseconds (PostgreSQL's precision).</summary>
    private async Task<HashSet<long>> RemainingCallTimesAsync(CancellationToken ct)
    {
        await using var command = _db.Database.CreateCommand("SELECT created_at FROM llm_provider_usage");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var times = new HashSet<long>();
        while (await reader.ReadAsync(ct))
        {
            times.Add(reader.GetFieldValue<DateTimeOffset>(0).UtcTicks / 10);
        }

        return times;
    }

    private async Task AssertReportAsync(List<Call> calls, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var inPeriod = calls.Where(c => c.At >= from && c.At < to).ToList();
        static UsageGroup Sum(string key, IEnumerable<Call> group)
        {
            var list = group.ToList();
            return new UsageGroup(key, list.Count, list.Sum(c => (long)c.Input), list.Sum(c => (long)c.Output),
                list.Sum(c => (long)c.Input + c.Output), list.Sum(c => c.Cost));
        }

        UsageGroup[] By(Func<Call, string> key) => inPeriod.GroupBy(key).Select(g => Sum(g.Key, g))
            .OrderByDescending(g => g.CostUsd).ThenBy(g => g.Key, StringComparer.Ordinal).ToArray();

        var report = await _db.Get<UsageReport>().BuildAsync(from, to, ct);
        Assert.Equal(Sum("total", inPeriod), report.Total);
        Assert.Equal(By(c => c.Model), report.ByModel);
        Assert.Equal(By(c => c.Workflow), report.ByWorkflow);
        Assert.Equal(By(c => c.User ?? "(none)"), report.ByUser);
        Assert.Equal(inPeriod.GroupBy(c => c.At.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture))
            .Select(g => Sum(g.Key, g)).OrderBy(g => g.Key, StringComparer.Ordinal).ToArray(), report.ByDay);
    }

    private async Task InsertAsync(Call call, CancellationToken ct, bool withJob = true)
    {
        await using var command = _db.Database.CreateCommand("""
            WITH job AS (
                INSERT INTO llm_workflow_jobs (celery_task_id, workflow_name, user_id, status, input_data, created_at, completed_at)
                SELECT gen_random_uuid()::text, $2, $3, 'completed', '{}', $1, $1 WHERE $8
                RETURNING id)
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, created_at)
            VALUES ((SELECT id FROM job), split_part($4, '/', 1), $4, $5, $6, $5 + $6, $7, $1)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = call.At });
        command.Parameters.Add(new NpgsqlParameter { Value = call.Workflow });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)call.User ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Varchar });
        command.Parameters.Add(new NpgsqlParameter { Value = call.Model });
        command.Parameters.Add(new NpgsqlParameter { Value = call.Input });
        command.Parameters.Add(new NpgsqlParameter { Value = call.Output });
        command.Parameters.Add(new NpgsqlParameter { Value = call.Cost });
        command.Parameters.Add(new NpgsqlParameter { Value = withJob });
        await command.ExecuteNonQueryAsync(ct);
    }

    private async Task<long> CountAsync(string sql, CancellationToken ct)
    {
        await using var command = _db.Database.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }
}
