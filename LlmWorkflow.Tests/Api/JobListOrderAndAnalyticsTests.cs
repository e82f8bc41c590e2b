using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Api;

/// <summary>
/// The jobs list's sort and drill-down filters, the tenant filter, and the admin time series, against a real API on
/// real Postgres (no worker: the test writes the jobs' timestamps and figures itself, then compares every answer with
/// what it computes from the rows it reads back from the database).
/// </summary>
[IntegrationTest]
public sealed class JobListOrderAndAnalyticsTests(ClassApi api) : ApiWithDatabase(api)
{
    private static readonly string[] SortFields = ["created_at", "status", "workflow_name", "username", "priority", "duration_ms", "total_tokens", "cost_usd"];

    [Fact]
    public async Task EverySortPagesThroughAllJobsInOrderWithoutRepeatsOrGaps()
    {
        var user = $"u{Guid.NewGuid():N}"[..12];
        var ids = new List<Guid>();
        for (var i = 0; i < 9; i++)
        {
            ids.Add(await SubmitAsync(Caller, user, $"sort {i}"));
        }

        // Ties on every column (and three jobs created in the same instant), empty durations and usernames.
        string?[] usernames = ["carol", "bob", null, "carol", "alice", null, "bob", "dave", "alice"];
        string[] statuses = ["queued", "completed", "failed", "completed", "cancelled", "queued", "failed", "completed", "completed"];
        string[] workflows = ["beta", "alpha", "beta", "gamma", "alpha", "alpha", "beta", "gamma", "beta"];
        int[] priorities = [1, 1, 2, 0, 5, 5, 5, 3, 0];
        int?[] durations = [null, 1200, 800, 1200, null, null, 300, 5000, 800];
        int[] tokens = [0, 120, 120, 900, 40, 0, 120, 900, 10];
        decimal[] costs = [0m, 0.0012m, 0.0012m, 0.5m, 0.0001m, 0m, 0.0012m, 0.5m, 0.00005m];
        var baseTime = DateTimeOffset.UtcNow.AddHours(-1);
        for (var i = 0; i < ids.Count; i++)
        {
            await ExecuteAsync(
                "UPDATE llm_workflow_jobs SET username = @username, status = @status, workflow_name = @workflow, priority = @priority, duration_ms = @duration, " +
                "total_tokens = @tokens, cost_usd = @cost, created_at = @created WHERE id = @id",
                ("username", (object?)usernames[i] ?? DBNull.Value), ("status", statuses[i]), ("workflow", workflows[i]), ("priority", priorities[i]),
                ("duration", (object?)durations[i] ?? DBNull.Value), ("tokens", tokens[i]), ("cost", costs[i]),
                ("created", baseTime.AddSeconds(i is 2 or 3 or 4 ? 10 : i)), ("id", ids[i]));
        }

        var rows = await ReadJobsAsync(user);
        foreach (var field in SortFields)
        {
            foreach (var order in new[] { "asc", "desc" })
            {
                var expected = Expected(rows, field, order == "desc");
                var paged = new List<Guid>();
                for (var offset = 0; offset < rows.Count; offset += 2)
                {
                    var page = await Caller.GetFromJsonAsync<JsonObject>($"api/v1/jobs?user_id={user}&limit=2&offset={offset}&sort={field}&order={order}", Ct);
                    Assert.Equal(rows.Count, (int)page!["total"]!);
                    paged.AddRange(page["jobs"]!.AsArray().Select(j => Guid.Parse((string)j!["job_id"]!)));
                }

                Assert.True(expected.SequenceEqual(paged), $"sort={field}&order={order}: expected {string.Join(",", expected)}, got {string.Join(",", paged)}");
            }
        }

        // Without sort: newest first, as before.
        var plain = await Caller.GetFromJsonAsync<JsonObject>($"api/v1/jobs?user_id={user}", Ct);
        Assert.Equal(Expected(rows, "created_at", descending: true), plain!["jobs"]!.AsArray().Select(j => Guid.Parse((string)j!["job_id"]!)));
    }

    [Theory]
    [InlineData("api/v1/jobs?sort=name", "sort")]
    [InlineData("api/v1/jobs?sort=cost_usd&order=up", "order")]
    [InlineData("api/v1/jobs?order=DESC", "order")]
    [InlineData("api/v1/jobs?usage_from=1999-12-31T00:00:00Z", "usage_from")]
    [InlineData("api/v1/jobs?usage_to=9999-01-01T00:00:00Z", "usage_to")]
    [InlineData("api/v1/jobs?usage_from=2026-02-01T00:00:00Z&usage_to=2026-01-01T00:00:00Z", "usage_from")]
    [InlineData("api/v1/jobs?usage_from=yesterday", "usage_from")]
    [InlineData("api/v1/admin/metrics/jobs?bucket=week", "bucket")]
    [InlineData("api/v1/admin/metrics/jobs?bucket=minute&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z", "bucket")]
    [InlineData("api/v1/admin/metrics/jobs?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from")]
    [InlineData("api/v1/admin/metrics/jobs?to=0001-01-01T00:00:00Z", "to")]
    [InlineData("api/v1/admin/metrics/jobs?from=soon", "from")]
    public async Task InvalidOrderFiltersAndRangesAre400NamingTheField(string path, string field)
    {
        using var response = await Admin.GetAsync(path, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)response.StatusCode} {text}");
        Assert.Contains(field, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LongTextFiltersAre400NamingTheField()
    {
        var longText = new string('m', 101);
        foreach (var (path, field) in new[]
                 {
                     ($"api/v1/jobs?model={longText}", "model"), ($"api/v1/jobs?username={longText}", "username"),
                     ($"api/v1/admin/usage?tenant_id={longText}", "tenant_id"), ($"api/v1/admin/metrics/jobs?tenant_id={longText}", "tenant_id"),
                 })
        {
            using var response = await Admin.GetAsync(path, Ct);
            var problem = await response.Content.ReadFromJsonAsync<JsonObject>(Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.True(problem!["errors"]!.AsObject().ContainsKey(field), $"{path}: {problem.ToJsonString()}");
        }
    }

    [Fact]
    public async Task UsageFiguresDrillDownToExactlyTheJobsTheyAdd()
    {
        var user = $"d{Guid.NewGuid():N}"[..12];
        var model = $"test/model-{Guid.NewGuid():N}"[..24];
        var withCall = await SubmitAsync(Admin, user, "drill 1", username: "Ada Lovelace");
        var otherModel = await SubmitAsync(Admin, user, "drill 2", username: "Ada Lovelace");
        var oldCall = await SubmitAsync(Admin, user, "drill 3", username: "Ada Lovelace");
        var noUserId = await SubmitAsync(Admin, null, "drill 4", username: $"only-name-{user}");
        var now = DateTimeOffset.UtcNow;
        await RecordUsageAsync(withCall, model, 0.25m, now.AddMinutes(-5));
        await RecordUsageAsync(otherModel, "test/other", 0.5m, now.AddMinutes(-5));
        await RecordUsageAsync(oldCall, model, 1m, now.AddDays(-3));
        await RecordUsageAsync(noUserId, model, 0.125m, now.AddMinutes(-4));

        var from = now.AddDays(-1);
        var to = now.AddMinutes(1);
        var period = $"usage_from={Uri.EscapeDataString(from.ToString("O"))}&usage_to={Uri.EscapeDataString(to.ToString("O"))}";
        var report = await Admin.GetFromJsonAsync<JsonObject>($"api/v1/admin/usage?from={Uri.EscapeDataString(from.ToString("O"))}&to={Uri.EscapeDataString(to.ToString("O"))}", Ct);

        // By user: the username with the user id, and a group keyed by username for the job that named no user id.
        var byUser = report!["by_user"]!.AsArray();
        var ada = byUser.Single(g => (string?)g!["user_id"] == user)!;
        Assert.Equal("Ada Lovelace", (string?)ada["username"]);
        var nameOnly = byUser.Single(g => (string?)g!["username"] == $"only-name-{user}")!;
        Assert.Null((string?)nameOnly["user_id"]);
        Assert.DoesNotContain(byUser, g => (string?)g!["key"] == "(none)" && (string?)g["username"] is not null);

        // Each figure's filters list exactly the jobs whose calls the database holds for it.
        foreach (var (query, sql) in new (string, string)[]
                 {
                     ($"model={Uri.EscapeDataString(model)}", "u.model = @model"),
                     ($"user_id={user}", "j.user_id = @user"),
                     ($"username={Uri.EscapeDataString($"only-name-{user}")}", "j.username = 'only-name-' || @user"),
                     ($"workflow_name=hello_transform&model={Uri.EscapeDataString(model)}", "j.workflow_name = 'hello_transform' AND u.model = @model"),
                 })
        {
            var expected = await QueryIdsAsync(
                "SELECT DISTINCT j.id FROM llm_workflow_jobs j JOIN llm_provider_usage u ON u.job_id = j.id " +
                $"WHERE u.created_at >= @from AND u.created_at < @to AND {sql}", ("from", from), ("to", to), ("model", model), ("user", user));
            var listed = await ListIdsAsync(Admin, $"{query}&{period}&limit=200");
            Assert.Equal(expected.Order(), listed.Order());
            Assert.NotEmpty(listed);
        }

        Assert.Equal(new[] { withCall, noUserId }.Order(), (await ListIdsAsync(Admin, $"model={Uri.EscapeDataString(model)}&{period}")).Order());
    }

    [Fact]
    public async Task OnlyAdminsChooseATenantAndCallersAlwaysSeeTheirOwn()
    {
        var user = $"t{Guid.NewGuid():N}"[..12];
        var callerJob = await SubmitAsync(Caller, user, "tenant tests");
        var adminJob = await SubmitAsync(Admin, user, "tenant tests-admin");
        await RecordUsageAsync(callerJob, "test/tenant", 0.25m, DateTimeOffset.UtcNow.AddMinutes(-1));
        await RecordUsageAsync(adminJob, "test/tenant", 0.5m, DateTimeOffset.UtcNow.AddMinutes(-1));

        // A caller naming another tenant still sees only its own.
        Assert.Equal([callerJob], await ListIdsAsync(Caller, $"user_id={user}&tenant_id=tests-admin"));
        Assert.Equal([callerJob], await ListIdsAsync(Caller, $"user_id={user}"));
        Assert.Equal([adminJob], await ListIdsAsync(Admin, $"user_id={user}&tenant_id=tests-admin"));
        Assert.Equal([callerJob], await ListIdsAsync(Admin, $"user_id={user}&tenant_id=tests"));
        Assert.Equal(new[] { callerJob, adminJob }.Order(), (await ListIdsAsync(Admin, $"user_id={user}")).Order());

        var tenants = await Admin.GetFromJsonAsync<JsonObject>("api/v1/admin/tenants", Ct);
        foreach (var tenant in tenants!["tenants"]!.AsArray())
        {
            var count = (long)(await ScalarAsync("SELECT count(*) FROM llm_workflow_jobs WHERE tenant_id = @t", ("t", (string)tenant!["tenant_id"]!)))!;
            Assert.Equal(count, (long)tenant["jobs"]!);
        }

        Assert.Contains(tenants["tenants"]!.AsArray(), t => (string?)t!["tenant_id"] == "tests");

        // The usage report and the time series narrow to the tenant too.
        foreach (var tenant in new[] { "tests", "tests-admin" })
        {
            var usage = await Admin.GetFromJsonAsync<JsonObject>($"api/v1/admin/usage?days=1&tenant_id={tenant}", Ct);
            var cost = (decimal)(await ScalarAsync(
                "SELECT coalesce(sum(u.cost_usd), 0) FROM llm_provider_usage u JOIN llm_workflow_jobs j ON j.id = u.job_id " +
                "WHERE j.tenant_id = @t AND u.created_at >= @from AND u.created_at < @to",
                ("t", tenant), ("from", DateTimeOffset.Parse((string)usage!["from"]!, CultureInfo.InvariantCulture)),
                ("to", DateTimeOffset.Parse((string)usage["to"]!, CultureInfo.InvariantCulture))))!;
            Assert.Equal(cost, (decimal)usage["total"]!["cost_usd"]!);
            Assert.True(cost > 0m);

            var series = await Admin.GetFromJsonAsync<JsonObject>($"api/v1/admin/metrics/jobs?tenant_id={tenant}", Ct);
            var submitted = series!["throughput"]!.AsArray().Sum(b => (int)b!["submitted"]!);
            var inDb = (long)(await ScalarAsync("SELECT count(*) FROM llm_workflow_jobs WHERE tenant_id = @t AND created_at >= @from AND created_at < @to",
                ("t", tenant), ("from", DateTimeOffset.Parse((string)series["from"]!, CultureInfo.InvariantCulture)),
                ("to", DateTimeOffset.Parse((string)series["to"]!, CultureInfo.InvariantCulture))))!;
            Assert.Equal(inDb, submitted);
        }

        // Callers get 403 on the admin routes.
        Assert.Equal(HttpStatusCode.Forbidden, (await Caller.GetAsync("api/v1/admin/tenants", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Caller.GetAsync("api/v1/admin/metrics/jobs", Ct)).StatusCode);
    }

    [Fact]
    public async Task TimeSeriesMatchesTheJobsTableBucketByBucket()
    {
        // A window in the past that only this test's jobs occupy, in a tenant of its own.
        var start = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddDays(-2).AddHours(3);
        var random = new Random(7);
        var ids = new List<Guid>();
        for (var i = 0; i < 24; i++)
        {
            var id = await SubmitAsync(Admin, "series", $"series {i}");
            ids.Add(id);
            var created = start.AddSeconds(random.Next(0, 50 * 60));
            var wait = TimeSpan.FromMilliseconds(random.Next(10, 20_000));
            var run = TimeSpan.FromMilliseconds(random.Next(50, 90_000));
            var status = (i % 5) switch { 0 => "failed", 1 => "cancelled", 4 => "queued", _ => "completed" };
            await ExecuteAsync(
                "UPDATE llm_workflow_jobs SET tenant_id = 'series-tenant', workflow_name = @workflow, status = @status, created_at = @created, queued_at = @created, " +
                "started_at = CASE WHEN @status = 'queued' THEN NULL ELSE @started END, completed_at = CASE WHEN @status = 'queued' THEN NULL ELSE @completed END WHERE id = @id",
                ("workflow", i % 3 == 0 ? "series_b" : "series_a"), ("status", status), ("created", created), ("started", created + wait), ("completed", created + wait + run), ("id", id));
        }

        var from = start;
        var to = start.AddHours(2);
        var answer = await Admin.GetFromJsonAsync<JsonObject>(
            $"api/v1/admin/metrics/jobs?tenant_id=series-tenant&bucket=minute&from={Uri.EscapeDataString(from.ToString("O"))}&to={Uri.EscapeDataString(to.ToString("O"))}", Ct);
        var buckets = answer!["throughput"]!.AsArray();
        Assert.Equal(120, buckets.Count);

        var rows = await ReadSeriesRowsAsync();
        Assert.Equal(24, rows.Count);
        static DateTimeOffset Minute(DateTimeOffset t) => new(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero);
        foreach (var bucket in buckets)
        {
            var at = DateTimeOffset.Parse((string)bucket!["start"]!, CultureInfo.InvariantCulture);
            Assert.Equal(rows.Count(r => Minute(r.Created) == at), (int)bucket["submitted"]!);
            foreach (var status in new[] { "completed", "failed", "cancelled" })
            {
                Assert.Equal(rows.Count(r => r.Status == status && r.Completed is { } c && Minute(c) == at), (int)bucket[status]!);
            }

            var done = (int)bucket["completed"]! + (int)bucket["failed"]!;
            Assert.Equal(done == 0 ? null : Math.Round((double)(int)bucket["failed"]! / done, 4), (double?)bucket["failure_rate"]);
        }

        Assert.Equal(rows.Count, buckets.Sum(b => (int)b!["submitted"]!));

        // Latency per workflow and bucket: percentiles computed here from the rows (linear interpolation, as percentile_cont).
        var byWorkflow = answer["by_workflow"]!.AsArray();
        Assert.Equal(["series_a", "series_b"], byWorkflow.Select(w => (string)w!["workflow_name"]!).Order());
        foreach (var workflow in byWorkflow)
        {
            var name = (string)workflow!["workflow_name"]!;
            var finished = rows.Where(r => r.Workflow == name && r.Status is "completed" or "failed").ToList();
            Assert.Equal(finished.Count, workflow["buckets"]!.AsArray().Sum(b => (int)b!["jobs"]!));
            foreach (var bucket in workflow["buckets"]!.AsArray())
            {
                var at = DateTimeOffset.Parse((string)bucket!["start"]!, CultureInfo.InvariantCulture);
                var inBucket = finished.Where(r => Minute(r.Completed!.Value) == at).ToList();
                Assert.Equal(inBucket.Count, (int)bucket["jobs"]!);
                var waits = inBucket.Select(r => (r.Started!.Value - r.Queued).TotalMilliseconds).ToList();
                var runs = inBucket.Select(r => (r.Completed!.Value - r.Started!.Value).TotalMilliseconds).ToList();
                Assert.Equal(Math.Round(Percentile(waits, 0.5), 1), (double)bucket["queue_wait_p50_ms"]!, 1);
                Assert.Equal(Math.Round(Percentile(waits, 0.95), 1), (double)bucket["queue_wait_p95_ms"]!, 1);
                Assert.Equal(Math.Round(Percentile(runs, 0.5), 1), (double)bucket["run_time_p50_ms"]!, 1);
                Assert.Equal(Math.Round(Percentile(runs, 0.95), 1), (double)bucket["run_time_p95_ms"]!, 1);
            }
        }
    }

    private static double Percentile(List<double> values, double fraction)
    {
        var sorted = values.Order().ToArray();
        var position = fraction * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = (int)Math.Ceiling(position);
        return sorted[lower] + ((sorted[upper] - sorted[lower]) * (position - lower));
    }

    /// <summary>The order the API promises, computed here: the field (empty values last), then created time and id in the same direction.</summary>
    private static List<Guid> Expected(List<JobRow> rows, string field, bool descending)
    {
        IComparable? Key(JobRow r) => field switch
        {
            "status" => r.Status,
            "workflow_name" => r.Workflow,
            "username" => r.Username ?? r.UserId,
            "priority" => r.Priority,
            "duration_ms" => r.Duration,
            "total_tokens" => r.Tokens,
            "cost_usd" => r.Cost,
            _ => r.Created,
        };

        var sign = descending ? -1 : 1;
        var sorted = rows.ToList();
        sorted.Sort((a, b) =>
        {
            var (ka, kb) = (Key(a), Key(b));
            if (ka is null != kb is null)
            {
                return ka is null ? 1 : -1;
            }

            var byKey = ka is string sa ? string.CompareOrdinal(sa, (string)kb!) : ka?.CompareTo(kb) ?? 0;
            if (byKey != 0)
            {
                return sign * byKey;
            }

            var byCreated = a.Created.CompareTo(b.Created);
            return byCreated != 0 ? sign * byCreated : sign * string.CompareOrdinal(a.Id.ToString(), b.Id.ToString());
        });
        return sorted.Select(r => r.Id).ToList();
    }

    private async Task<Guid> SubmitAsync(HttpClient client, string? user, string action, string? username = null)
    {
        using var response = await client.PostAsJsonAsync("api/v1/workflow",
            new { workflow_name = "hello_transform", input_data = new { name = "list" }, user_id = user, username, action }, Ct);
        response.EnsureSuccessStatusCode();
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["job_id"]!);
    }

    private async Task<List<Guid>> ListIdsAsync(HttpClient client, string query)
    {
        var page = await client.GetFromJsonAsync<JsonObject>($"api/v1/jobs?{query}", Ct);
        return page!["jobs"]!.AsArray().Select(j => Guid.Parse((string)j!["job_id"]!)).ToList();
    }

    private Task RecordUsageAsync(Guid jobId, string model, decimal cost, DateTimeOffset at) => ExecuteAsync(
        "INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, created_at) " +
        "VALUES (@job, 'test', @model, 10, 5, 15, @cost, 100, @at)", ("job", jobId), ("model", model), ("cost", cost), ("at", at));

    private async Task<List<JobRow>> ReadJobsAsync(string user)
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(
            "SELECT id, status, workflow_name, username, user_id, priority, duration_ms, total_tokens, cost_usd, created_at FROM llm_workflow_jobs WHERE user_id = @user", connection);
        command.Parameters.AddWithValue("user", user);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<JobRow>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(new JobRow(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetInt32(6), reader.GetInt32(7),
                reader.GetDecimal(8), reader.GetFieldValue<DateTimeOffset>(9)));
        }

        return rows;
    }

    private async Task<List<SeriesRow>> ReadSeriesRowsAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(
            "SELECT workflow_name, status, created_at, queued_at, started_at, completed_at FROM llm_workflow_jobs WHERE tenant_id = 'series-tenant'", connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<SeriesRow>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(new SeriesRow(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetFieldValue<DateTimeOffset>(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return rows;
    }

    private Task<List<Guid>> QueryIdsAsync(string sql, params (string Name, object Value)[] parameters) =>
        TestSql.QueryIdsAsync(Postgres, sql, Ct, parameters);

    private Task<object?> ScalarAsync(string sql, params (string Name, object Value)[] parameters) =>
        TestSql.ScalarAsync(Postgres, sql, Ct, parameters);

    private Task ExecuteAsync(string sql, params (string Name, object Value)[] parameters) =>
        TestSql.ExecuteAsync(Postgres, sql, Ct, parameters);

    private sealed record JobRow(Guid Id, string Status, string Workflow, string? Username, string? UserId, int Priority, int? Duration, int Tokens, decimal Cost, DateTimeOffset Created);

    private sealed record SeriesRow(string Workflow, string Status, DateTimeOffset Created, DateTimeOffset Queued, DateTimeOffset? Started, DateTimeOffset? Completed);
}
