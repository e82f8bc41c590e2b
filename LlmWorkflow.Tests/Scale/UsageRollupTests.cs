using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using LlmWorkflow.Api.Jobs;

namespace LlmWorkflow.Tests.Scale;

/// <summary>
/// The usage report served from the rollup equals the report summed from the raw rows — across tenants, users
/// (with and without a user id, with a renamed username), days and months, for several periods with and without a
/// tenant filter — before the rollup ran, after a rollup that left the open day partly rolled, after the next run
/// added the hours since, after new calls arrived, after retention and a bulk delete took jobs away (a user's latest
/// username going with them), and after a back-dated call was rebuilt in. Real API, real Postgres; the expected
/// figures are computed here from the rows read back, the way the report summed them before the rollup existed.
/// </summary>
[IntegrationTest]
public sealed class UsageRollupTests(TestServers servers) : IAsyncLifetime
{
    // A database per test, not one per class: once the rollup test has rolled up to the present, calls another test
    // writes for the last hour would land in hours the rollup already closed (and read as missing from the report).
    private readonly ClassApi _environment = new(servers);

    private ApiFactory Api => _environment.Api;

    private HttpClient Caller => _environment.Caller;

    private HttpClient Admin => _environment.Admin;

    private string Postgres => _environment.Postgres;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => _environment.InitializeAsync();

    public ValueTask DisposeAsync() => _environment.DisposeAsync();

    [Fact]
    public async Task ReportFromTheRollupEqualsTheRawRowsThroughNewCallsRetentionAndDeletes()
    {
        Assert.True((await Admin.GetAsync("/api/v1/admin/usage", Ct)).IsSuccessStatusCode); // migrated
        await TestSql.ExecuteAsync(Postgres, """
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, user_id, username, status, input_data, completed_at, tenant_id, created_at)
            SELECT md5('rollup-' || i)::uuid, md5('rollup-' || i), (ARRAY['alpha', 'beta', 'gamma'])[1 + (i / 3) % 3],
                   CASE WHEN i % 7 = 0 THEN NULL ELSE 'user-' || (i % 13) END,
                   CASE WHEN i % 11 = 0 THEN NULL ELSE 'name-' || (i % 13) || CASE WHEN i < 100 THEN '-renamed' ELSE '' END END,
                   CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'completed' END, '{}', now() - i * interval '4 hours 7 minutes',
                   (ARRAY['t-a', 't-b', 't-c'])[1 + i % 3], now() - i * interval '4 hours 7 minutes' - interval '1 minute'
              FROM generate_series(1, 400) i;
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, created_at)
            SELECT md5('rollup-' || i)::uuid, 'fake', (ARRAY['m-one', 'm-two'])[1 + (i + k) % 2], 10 * i + k, i + k, 11 * i + 2 * k,
                   round(((i * k) % 97) * 0.000137, 6), now() - i * interval '4 hours 7 minutes' + k * interval '41 minutes'
              FROM generate_series(1, 400) i, generate_series(1, 1 + i % 3) k;
            -- Calls of jobs that are gone (job_id NULL): no tenant, workflow "(no job)".
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, created_at)
            SELECT NULL, 'fake', 'm-one', 5, 5, 10, 0.000321, now() - i * interval '3 days 2 hours'
              FROM generate_series(1, 20) i;
            """, Ct);

        await AssertReportsEqualRawAsync("before any rollup");

        // First as if it were 30 hours ago (the open day then partly rolled), then now: the second run adds the hours
        // between to the rows the first one wrote. Fixed clocks: a run crossing an hour boundary changes nothing.
        var now = DateTimeOffset.UtcNow;
        var dataSource = Api.Services.GetRequiredService<NpgsqlDataSource>();
        var earlier = new UsageRollup(dataSource, new ManualClock(now.AddHours(-30)));
        Assert.True(await earlier.RollUpAsync(Ct) > 50 * 24);
        Assert.Equal(FloorHour(now.AddHours(-30) - UsageRollup.Grace), await earlier.RolledUntilAsync(Ct));
        await AssertRollupEqualsRawAsync();
        await AssertReportsEqualRawAsync("after a rollup 30 hours ago");

        var rollup = new UsageRollup(dataSource, new ManualClock(now));
        Assert.Equal(30, await rollup.RollUpAsync(Ct));
        Assert.Equal(FloorHour(now - UsageRollup.Grace), await rollup.RolledUntilAsync(Ct));
        Assert.True(Convert.ToInt64(await TestSql.ScalarAsync(Postgres, "SELECT count(*) FROM llm_usage_user_monthly", Ct), CultureInfo.InvariantCulture) > 0);
        await AssertRollupEqualsRawAsync();
        await AssertReportsEqualRawAsync("after the rollup");
        Assert.Equal(0, await rollup.RollUpAsync(Ct));

        // Calls after the rollup ran: today's open edge is summed raw.
        await TestSql.ExecuteAsync(Postgres, """
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, created_at)
            SELECT md5('rollup-' || i)::uuid, 'fake', 'm-three', 7, 3, 10, 0.004200, now() - interval '1 second'
              FROM generate_series(1, 30) i;
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, created_at)
            VALUES (NULL, 'fake', 'm-three', 1, 1, 2, 0.000100, now());
            """, Ct);
        await AssertReportsEqualRawAsync("after new calls");

        // Retention in small batches takes the jobs older than 40 days, their calls leave the rollup with them.
        await using (var scope = Api.Services.CreateAsyncScope())
        {
            var retention = await scope.ServiceProvider.GetRequiredService<JobMaintenance>().DeleteFinishedAsync(TimeSpan.FromDays(40), Ct, batchSize: 7);
            Assert.True(retention.Deleted > 100 && retention.Batches > 10, $"{retention}");
        }

        await AssertRollupEqualsRawAsync();
        await AssertReportsEqualRawAsync("after retention");

        // A bulk delete of a few recent jobs with rolled-up calls.
        var doomed = await TestSql.QueryIdsAsync(Postgres, "SELECT md5('rollup-' || i)::uuid FROM generate_series(20, 26) i", Ct);
        using (var request = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/jobs/bulk") { Content = JsonContent.Create(new { job_ids = doomed }) })
        {
            using var response = await Admin.SendAsync(request, Ct);
            Assert.Equal(7, (int)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["deleted"]!);
        }

        await AssertRollupEqualsRawAsync();
        await AssertReportsEqualRawAsync("after a bulk delete");

        // A call written with a time inside a rolled-up day (an import): rebuilding that day takes it in. Its time is
        // chosen here, so the day checked below is the call's own even at midnight.
        var importedAt = DateTimeOffset.UtcNow.AddDays(-9);
        await TestSql.ExecuteAsync(Postgres, """
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, created_at)
            VALUES (md5('rollup-50')::uuid, 'fake', 'm-one', 9, 9, 18, 0.009000, @at)
            """, Ct, ("at", importedAt));
        var day = DateOnly.FromDateTime(importedAt.UtcDateTime);
        Assert.Equal(1L, await CallsMissingFromTheRollupAsync(day));

        // The admin endpoint rebuilds those days; the rollup ends after them, so all of them are rebuilt.
        using (var rebuild = await Admin.PostAsync($"/api/v1/admin/usage/rebuild?from={day.AddDays(-1):yyyy-MM-dd}&to={day.AddDays(2):yyyy-MM-dd}", null, Ct))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, rebuild.StatusCode);
            var answer = (await rebuild.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.Equal(day.AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), (string)answer["from"]!);
            Assert.Equal(new DateTimeOffset(day.AddDays(2).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), (DateTimeOffset)answer["rebuilt_until"]!);
            Assert.Equal(FloorHour(now - UsageRollup.Grace), (DateTimeOffset)answer["rolled_until"]!);
        }

        Assert.Equal(0L, await CallsMissingFromTheRollupAsync(day));
        await AssertRollupEqualsRawAsync();
        await AssertReportsEqualRawAsync("after a rebuild");

        // Days past the rollup's end are not rebuilt (the report sums them raw): the answer says so.
        var future = DateOnly.FromDateTime(DateTime.UtcNow.AddDays(3));
        var beyond = (await (await Admin.PostAsync($"/api/v1/admin/usage/rebuild?from={future:yyyy-MM-dd}&to={future.AddDays(1):yyyy-MM-dd}", null, Ct))
            .Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Null(beyond["rebuilt_until"]);
        await AssertRollupEqualsRawAsync();
    }

    [Theory]
    [InlineData("", "from")]
    [InlineData("?from=2026-01-02", "to")]
    [InlineData("?from=2026-01-02&to=2026-01-02", "from")]
    [InlineData("?from=2026-01-01&to=2026-02-02", "to")]
    [InlineData("?from=1999-12-31&to=2000-01-02", "from")]
    [InlineData("?from=2026-01-01&to=9000-01-01", "to")]
    [InlineData("?from=2026-02-30&to=2026-03-02", "from")]
    public async Task RebuildRefusesAMissingReversedOrTooLongRangeNamingTheField(string query, string field)
    {
        using var response = await Admin.PostAsync($"/api/v1/admin/usage/rebuild{query}", null, Ct);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(field, await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RebuildIsForAdminKeysOnly()
    {
        using var response = await Caller.PostAsync("/api/v1/admin/usage/rebuild?from=2026-01-01&to=2026-01-02", null, Ct);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, response.StatusCode);
    }

    /// <summary>Calls of the UTC day <paramref name="day"/> that its rollup row does not count.</summary>
    private async Task<long> CallsMissingFromTheRollupAsync(DateOnly day) => Convert.ToInt64(await TestSql.ScalarAsync(Postgres, """
        SELECT (SELECT count(*) FROM llm_provider_usage WHERE created_at >= @day::timestamp AT TIME ZONE 'UTC' AND created_at < (@day::timestamp + interval '1 day') AT TIME ZONE 'UTC')
             - (SELECT coalesce(sum(calls), 0) FROM llm_usage_daily WHERE day = @day)
        """, Ct, ("day", day)), CultureInfo.InvariantCulture);

    [Fact]
    public async Task UserPagingListsTheMostExpensiveUsersAndSumsTheRestAsOthers()
    {
        var tenant = $"paging-{Guid.NewGuid():N}"[..20];
        await TestSql.ExecuteAsync(Postgres, """
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, user_id, username, status, input_data, completed_at, tenant_id, created_at)
            SELECT md5(@tenant || i)::uuid, md5(@tenant || i), 'alpha', 'pager-' || i, NULL, 'completed', '{}', now(), @tenant, now() - interval '1 hour'
              FROM generate_series(1, 12) i;
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, created_at)
            SELECT md5(@tenant || i)::uuid, 'fake', 'm-one', i, i, 2 * i, i * 0.001, now() - interval '1 hour'
              FROM generate_series(1, 12) i;
            """, Ct, ("tenant", tenant));

        var page = (await Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/usage?days=1&tenant_id={tenant}&user_limit=3&user_offset=2", Ct))!;
        Assert.Equal(12, (int)page["user_count"]!);
        var users = page["by_user"]!.AsArray();
        Assert.Equal(["pager-10", "pager-9", "pager-8", "(others)"], users.Select(u => (string)u!["key"]!));
        Assert.Equal(["pager-10", "pager-9", "pager-8", null], users.Select(u => (string?)u!["user_id"]));
        // The others: every user not on the page (the two before it and the seven after it).
        Assert.Equal((9, 78m - 27m), ((int)users[3]!["calls"]!, (decimal)users[3]!["cost_usd"]! * 1000));

        var bad = await Admin.GetAsync("/api/v1/admin/usage?user_limit=0", Ct);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("user_limit", await bad.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        var badOffset = await Admin.GetAsync("/api/v1/admin/usage?user_offset=-1", Ct);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, badOffset.StatusCode);
        Assert.Contains("user_offset", await badOffset.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    /// <summary>Every rollup row equals the raw rows of its day (or month) and keys, and no raw key of a rolled day is missing.</summary>
    private async Task AssertRollupEqualsRawAsync()
    {
        const string raw = """
            SELECT (u.created_at AT TIME ZONE 'UTC')::date AS day, coalesce(j.tenant_id, u.tenant_id, '') AS tenant_id, u.model,
                   coalesce(j.workflow_name, u.workflow_name, '') AS workflow_name, coalesce(j.user_id, u.user_id, '') AS user_id,
                   CASE WHEN coalesce(j.user_id, u.user_id) IS NOT NULL THEN '' WHEN coalesce(j.username, u.username) IS NOT NULL
                        THEN 'n:' || coalesce(j.username, u.username) ELSE 'none' END AS user_key,
                   u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd
              FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON j.id = u.job_id
             WHERE u.created_at < (SELECT rolled_until FROM llm_usage_rollup_state)
            """;
        foreach (var (rollup, keys) in new[]
                 {
                     ("llm_usage_daily", "day, tenant_id, model, workflow_name"),
                     ("llm_usage_user_daily", "day, tenant_id, user_id, user_key"),
                     ("llm_usage_user_monthly", "date_trunc('month', day::timestamp)::date, tenant_id, user_id, user_key"),
                 })
        {
            var rollupKeys = rollup == "llm_usage_user_monthly" ? "month, tenant_id, user_id, user_key" : keys;
            var differences = await TestSql.ScalarAsync(Postgres, $"""
                WITH r AS (SELECT {keys}, count(*) AS calls, sum(input_tokens) AS i, sum(output_tokens) AS o, sum(total_tokens) AS t, sum(cost_usd) AS c
                             FROM ({raw}) x GROUP BY {keys}),
                     s AS (SELECT {rollupKeys}, calls, input_tokens AS i, output_tokens AS o, total_tokens AS t, cost_usd AS c FROM {rollup} WHERE calls <> 0)
                SELECT count(*) FROM ((SELECT * FROM r EXCEPT ALL SELECT * FROM s) UNION ALL (SELECT * FROM s EXCEPT ALL SELECT * FROM r)) d
                """, Ct);
            Assert.True(Convert.ToInt64(differences, CultureInfo.InvariantCulture) == 0, $"{rollup} differs from the raw rows in {differences} rows");
        }
    }

    private async Task AssertReportsEqualRawAsync(string when)
    {
        var now = DateTimeOffset.UtcNow;
        var odd = now.AddDays(-45).Date.AddHours(13).AddMinutes(17);
        var periods = new[]
        {
            "days=30",
            "from=2000-01-01T00:00:00Z",
            $"from={Uri.EscapeDataString(new DateTimeOffset(odd, TimeSpan.Zero).ToString("O", CultureInfo.InvariantCulture))}&to={Uri.EscapeDataString(now.AddDays(-3).Date.AddHours(5).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture))}",
            "days=2",
            // Ends before the rollup's end (inside its partly rolled last day unless it is just after midnight).
            $"from={Uri.EscapeDataString(now.AddDays(-5).ToString("O", CultureInfo.InvariantCulture))}&to={Uri.EscapeDataString(now.AddHours(-3).ToString("O", CultureInfo.InvariantCulture))}",
            // Start in the first half of a rolled day: that day's rollup rows minus its calls before the start. Within a
            // month; from the month before last's last day (then a whole month row); from a month's first day (this
            // month's, unless it began less than two days ago).
            Since(now.AddDays(-20).Date.AddHours(2).AddMinutes(29)),
            Since(new DateTime(now.Year, now.Month, 1, 5, 3, 0, DateTimeKind.Utc).AddMonths(-1).AddDays(-1)),
            Since(new DateTime(now.AddDays(-2).Year, now.AddDays(-2).Month, 1, 11, 59, 0, DateTimeKind.Utc)),
        };
        var rows = await ReadRawAsync();
        foreach (var period in periods)
        {
            foreach (var tenant in new string?[] { null, "t-b" })
            {
                var query = $"/api/v1/admin/usage?{period}&user_limit=10000" + (tenant is null ? "" : $"&tenant_id={tenant}");
                var report = (await Admin.GetFromJsonAsync<JsonObject>(query, Ct))!;
                var from = DateTimeOffset.Parse((string)report["from"]!, CultureInfo.InvariantCulture);
                var to = DateTimeOffset.Parse((string)report["to"]!, CultureInfo.InvariantCulture);
                var expected = Expected(rows.Where(r => r.CreatedAt >= from && r.CreatedAt < to && (tenant is null || r.Tenant == tenant)).ToList());
                var actual = Actual(report);
                Assert.True(expected.Count > 0);
                foreach (var (group, lines) in expected)
                {
                    Assert.True(actual.TryGetValue(group, out var got), $"{when}, {query}: no {group}");
                    Assert.True(lines.SequenceEqual(got!), $"{when}, {query}, {group}:\nexpected {string.Join("; ", lines)}\nactual   {string.Join("; ", got!)}");
                }
            }
        }
    }

    private static string Since(DateTime start) => $"from={Uri.EscapeDataString(start.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture))}";

    [Fact]
    public void APeriodStartingInTheFirstHalfOfARolledDaySubtractsThatDaysEarlierCallsInsteadOfSummingTheRest()
    {
        var rolled = new DateTimeOffset(2026, 11, 24, 3, 0, 0, TimeSpan.Zero);
        var end = rolled.AddMinutes(75);

        var early = UsageReport.Plan(new DateTimeOffset(2026, 10, 25, 4, 20, 0, TimeSpan.Zero), end, rolled);
        Assert.Equal(new DateOnly(2026, 10, 25), early.FirstDay);
        Assert.Equal([(new DateTimeOffset(2026, 10, 25, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 10, 25, 4, 20, 0, TimeSpan.Zero))], early.RawSubtracted);
        Assert.Equal([(rolled, end)], early.Raw);

        // Later in the day the rest of it is the smaller part: summed raw, as before.
        var late = UsageReport.Plan(new DateTimeOffset(2026, 10, 25, 19, 0, 0, TimeSpan.Zero), end, rolled);
        Assert.Equal(new DateOnly(2026, 10, 26), late.FirstDay);
        Assert.Empty(late.RawSubtracted);
        Assert.Equal([(new DateTimeOffset(2026, 10, 25, 19, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 10, 26, 0, 0, 0, TimeSpan.Zero)), (rolled, end)], late.Raw);

        // A day the rollup holds only in part is never subtracted from.
        var partlyRolled = UsageReport.Plan(new DateTimeOffset(2026, 11, 23, 1, 0, 0, TimeSpan.Zero), end, new DateTimeOffset(2026, 11, 23, 20, 0, 0, TimeSpan.Zero));
        Assert.Empty(partlyRolled.RawSubtracted);
    }

    /// <summary>The report's groups as comparable lines.</summary>
    private static Dictionary<string, List<string>> Actual(JsonObject report)
    {
        static string Line(JsonNode g) =>
            $"{(string?)g["key"]}|{(string?)g["user_id"]}|{(string?)g["username"]}|{(int)g["calls"]!}|{(long)g["input_tokens"]!}|{(long)g["output_tokens"]!}|{(long)g["total_tokens"]!}|{((decimal)g["cost_usd"]!).ToString("0.000000", CultureInfo.InvariantCulture)}";
        var result = new Dictionary<string, List<string>> { ["total"] = [Line(report["total"]!)], ["user_count"] = [((int)report["user_count"]!).ToString(CultureInfo.InvariantCulture)] };
        foreach (var group in new[] { "by_model", "by_workflow", "by_user", "by_day" })
        {
            result[group] = report[group]!.AsArray().Select(g => Line(g!)).ToList();
        }

        return result;
    }

    /// <summary>The report as the raw-row implementation computed it (grouping, ordering, latest username).</summary>
    private static Dictionary<string, List<string>> Expected(List<RawCall> rows)
    {
        static string Line(string key, string? userId, string? username, IReadOnlyCollection<RawCall> g) =>
            $"{key}|{userId}|{username}|{g.Count}|{g.Sum(r => (long)r.Input)}|{g.Sum(r => (long)r.Output)}|{g.Sum(r => (long)r.Total)}|{g.Sum(r => r.Cost).ToString("0.000000", CultureInfo.InvariantCulture)}";
        static List<string> By(IEnumerable<RawCall> calls, Func<RawCall, string> key) =>
            calls.GroupBy(key).Select(g => (g.Key, Cost: g.Sum(r => r.Cost), Line: Line(g.Key, null, null, g.ToList())))
                .OrderByDescending(g => g.Cost).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Line).ToList();
        var users = rows.GroupBy(r => (r.UserId, Username: r.UserId is null ? r.Username : null))
            .Select(g => (Key: g.Key.UserId ?? g.Key.Username ?? "(none)", Cost: g.Sum(r => r.Cost),
                Line: Line(g.Key.UserId ?? g.Key.Username ?? "(none)", g.Key.UserId,
                    g.OrderByDescending(r => r.CreatedAt).Select(r => r.Username).FirstOrDefault(n => n is not null), g.ToList())))
            .OrderByDescending(g => g.Cost).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
        return new Dictionary<string, List<string>>
        {
            ["total"] = [Line("total", null, null, rows)],
            ["user_count"] = [users.Count.ToString(CultureInfo.InvariantCulture)],
            ["by_model"] = By(rows, r => r.Model),
            ["by_workflow"] = By(rows, r => r.Workflow ?? "(no job)"),
            ["by_user"] = users.Select(u => u.Line).ToList(),
            ["by_day"] = rows.GroupBy(r => r.CreatedAt.UtcDateTime.Date).OrderBy(g => g.Key)
                .Select(g => Line(g.Key.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), null, null, g.ToList())).ToList(),
        };
    }

    private async Task<List<RawCall>> ReadRawAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("""
            SELECT u.model, coalesce(j.tenant_id, u.tenant_id), coalesce(j.workflow_name, u.workflow_name), coalesce(j.user_id, u.user_id),
                   coalesce(j.username, u.username), u.created_at, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd
              FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON j.id = u.job_id
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<RawCall>();
        while (await reader.ReadAsync(Ct))
        {
            string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
            rows.Add(new RawCall(reader.GetString(0), Text(1), Text(2), Text(3), Text(4), reader.GetFieldValue<DateTimeOffset>(5),
                reader.GetInt32(6), reader.GetInt32(7), reader.GetInt32(8), reader.GetDecimal(9)));
        }

        return rows;
    }

    private static DateTimeOffset FloorHour(DateTimeOffset instant) => new(instant.UtcDateTime.Date.AddHours(instant.UtcDateTime.Hour), TimeSpan.Zero);

    private sealed record RawCall(string Model, string? Tenant, string? Workflow, string? UserId, string? Username, DateTimeOffset CreatedAt,
        int Input, int Output, int Total, decimal Cost);
}
