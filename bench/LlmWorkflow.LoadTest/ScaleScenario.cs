using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// The scale benchmark: the product path (API over HTTP, a worker draining) on a database holding
/// <c>N</c> finished jobs (<see cref="ScaleSeeder"/>), or on an empty one with <c>N = 0</c>. Per round: submit latency
/// (open loop) and job latency, status, five list queries (the deep page by offset and by cursor) and the usage
/// report; then once, the scheduled retention
/// deleting the oldest tenth while submissions continue.
/// </summary>
internal static class ScaleScenario
{
    private const int SubmitRate = 100;
    private const int SubmitSeconds = 10;
    private const int StatusRequests = 300;
    private const int ListRequests = 40;
    private const int UsageRequests = 3;
    private const int RetentionRate = 50;
    private const string ListedUser = "user-00000";

    private static readonly List<string> Errors = [];

    private static readonly (string Name, string Query)[] Lists =
    [
        ("list_first_page", "/api/v1/jobs"),
        ("list_by_user", $"/api/v1/jobs?user_id={ListedUser}"),
        ("list_by_status_failed", "/api/v1/jobs?status_filter=failed"),
        ("list_deep_page_offset_10000", "/api/v1/jobs?offset=10000"),
    ];

    private static readonly (string Name, string Query)[] Usage =
    [
        ("usage_month", "/api/v1/admin/usage?days=30"),
        ("usage_all_time", "/api/v1/admin/usage?from=2000-01-01T00:00:00Z"),
    ];

    /// <param name="retention">Whether the retention phase runs after the rounds (it deletes the oldest tenth).</param>
    public static async Task<JsonObject> RunAsync(BenchEnvironment environment, long jobs, int rounds, bool retention = true)
    {
        var result = new JsonObject { ["scenario"] = "scale", ["seeded_jobs"] = jobs, ["fsync"] = !environment.FsyncOff, ["rounds"] = rounds };
        await environment.StartApiAsync();
        if (jobs > 0)
        {
            await ScaleSeeder.EnsureAsync(environment.PostgresConnectionString, jobs, Log);
        }

        if (rounds == 0)
        {
            // `scale N 0`: seed (or restore) only, e.g. ahead of the measured runs.
            result["database"] = await DescribeDatabaseAsync(environment);
            return result;
        }

        result["database"] = await DescribeDatabaseAsync(environment);
        environment.StartWorker("scale-worker-1", new() { ["Worker__MaxConcurrentJobs"] = "256", ["Maintenance__Enabled"] = "false" });
        using var caller = Client(environment, BenchEnvironment.ApiKey);
        using var admin = Client(environment, BenchEnvironment.AdminKey);

        // Warm-up: JIT-tiered code in the API and worker, every route exercised.
        Log("warm-up");
        var warm = await SubmitOpenLoopAsync(caller, 200, 10);
        await WaitForCompletedAsync(environment, warm.Ids);
        var statusIds = await StatusIdsAsync(environment, jobs);
        var lists = Lists.Append(("list_deep_page_cursor_10000", await DeepCursorQueryAsync(caller))).ToArray();
        await TimeGetsAsync(caller, statusIds.Take(100).Select(id => $"/api/v1/status/{id}"));
        foreach (var (_, query) in lists)
        {
            await TimeGetsAsync(caller, Enumerable.Repeat(query, 5));
        }

        foreach (var (_, query) in Usage)
        {
            await TimeGetsAsync(admin, [query]);
        }

        var perRound = new Dictionary<string, List<double>>();
        void Add(string name, double value) => (perRound.TryGetValue(name, out var list) ? list : perRound[name] = []).Add(Math.Round(value, 2));
        var load = new JsonArray();
        for (var round = 1; round <= rounds; round++)
        {
            Log($"round {round}");
            load.Add(LoadAverage());
            var submitted = await SubmitOpenLoopAsync(caller, SubmitRate, SubmitSeconds);
            await WaitForCompletedAsync(environment, submitted.Ids);
            Add("submit_p50_ms", Percentiles.Of(submitted.Latencies, 50));
            Add("submit_p99_ms", Percentiles.Of(submitted.Latencies, 99));
            var jobLatency = await JobLatenciesAsync(environment, submitted.Ids);
            Add("job_latency_p50_ms", Percentiles.Of(jobLatency, 50));
            Add("job_latency_p99_ms", Percentiles.Of(jobLatency, 99));

            var ids = statusIds.OrderBy(_ => Random.Shared.Next()).Take(StatusRequests);
            var status = await TimeGetsAsync(caller, ids.Select(id => $"/api/v1/status/{id}"));
            Add("status_p50_ms", Percentiles.Of(status, 50));
            Add("status_p99_ms", Percentiles.Of(status, 99));
            foreach (var (name, query) in lists)
            {
                var list = await TimeGetsAsync(caller, Enumerable.Repeat(query, ListRequests));
                Add($"{name}_p50_ms", Percentiles.Of(list, 50));
                Add($"{name}_p99_ms", Percentiles.Of(list, 99));
            }

            foreach (var (name, query) in Usage)
            {
                var usage = await TimeGetsAsync(admin, Enumerable.Repeat(query, UsageRequests));
                Add($"{name}_median_ms", Percentiles.Of(usage, 50));
            }
        }

        var figures = new JsonObject();
        foreach (var (name, values) in perRound)
        {
            var sorted = values.Order().ToArray();
            figures[name] = new JsonObject
            {
                ["median"] = sorted[sorted.Length / 2],
                ["min"] = sorted[0],
                ["max"] = sorted[^1],
                ["runs"] = new JsonArray(values.Select(v => (JsonNode)v).ToArray()),
            };
        }

        result["figures"] = figures;
        result["load_average_per_round"] = load;
        if (retention)
        {
            result["retention"] = await RetentionAsync(environment, caller, jobs);
        }

        result["load_average_end"] = LoadAverage();
        result["errors"] = new JsonArray(Errors.Select(e => (JsonNode)e).ToArray());
        return result;
    }

    /// <summary>
    /// Submissions at <see cref="RetentionRate"/>/s while a second worker, with scheduled maintenance on, runs the
    /// retention: job latency (completed_at − created_at) of the jobs submitted before and during the delete, the
    /// longest gap between two completions during it, and how long the delete took.
    /// </summary>
    private static async Task<JsonObject> RetentionAsync(BenchEnvironment environment, HttpClient caller, long jobs)
    {
        Log("retention");
        var retention = TimeSpan.FromDays(3650);
        if (jobs > 0)
        {
            await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
            await connection.OpenAsync();
            var reference = (await ScaleSeeder.ReferenceAsync(connection))!.Value;
            retention = DateTimeOffset.UtcNow - ScaleSeeder.OldWindowEnd(reference, jobs);
        }

        var loadBefore = LoadAverage();
        using var stop = new CancellationTokenSource();
        var submissions = SubmitUntilAsync(caller, RetentionRate, stop.Token);
        await Task.Delay(TimeSpan.FromSeconds(10));
        var deleteStarted = DateTimeOffset.UtcNow;
        var maintainer = environment.StartWorker("scale-maintainer", new()
        {
            ["Worker__MaxConcurrentJobs"] = "256",
            ["Maintenance__Enabled"] = "true",
            ["Maintenance__Interval"] = "00:00:02",
            ["Maintenance__CheckInterval"] = "00:00:01",
            ["Maintenance__Retention"] = retention.ToString("c", CultureInfo.InvariantCulture),
        });
        JsonObject? run = null;
        var waited = Stopwatch.StartNew();
        while (run is null && waited.Elapsed < TimeSpan.FromHours(1))
        {
            await Task.Delay(500);
            run = await RetentionRunAsync(environment, deleteStarted);
        }

        var deleteEnded = DateTimeOffset.UtcNow;
        var loadDuring = LoadAverage();
        await Task.Delay(TimeSpan.FromSeconds(5));
        await stop.CancelAsync();
        var submitted = await submissions;
        await environment.StopAsync(maintainer);
        await WaitForCompletedAsync(environment, submitted.Select(s => s.Id).ToList());

        var before = submitted.Where(s => s.SentAt < deleteStarted).ToList();
        // For an empty database the delete is instant: its "during" window is the same 10 s as "before".
        var windowEnd = deleteEnded - deleteStarted < TimeSpan.FromSeconds(10) ? deleteStarted + TimeSpan.FromSeconds(10) : deleteEnded;
        var during = submitted.Where(s => s.SentAt >= deleteStarted && s.SentAt < windowEnd).ToList();
        return new JsonObject
        {
            ["retention_run"] = run,
            ["delete_seconds"] = run is null ? null : Math.Round(((DateTimeOffset)run["finished_at"]!.GetValue<DateTime>() - (DateTimeOffset)run["started_at"]!.GetValue<DateTime>()).TotalSeconds, 1),
            ["submissions_before"] = before.Count,
            ["submissions_during"] = during.Count,
            ["submit_p50_ms_before"] = Math.Round(Percentiles.Of(before.Select(s => s.LatencyMs).Order().ToArray(), 50), 2),
            ["submit_p99_ms_before"] = Math.Round(Percentiles.Of(before.Select(s => s.LatencyMs).Order().ToArray(), 99), 2),
            ["submit_p50_ms_during"] = Math.Round(Percentiles.Of(during.Select(s => s.LatencyMs).Order().ToArray(), 50), 2),
            ["submit_p99_ms_during"] = Math.Round(Percentiles.Of(during.Select(s => s.LatencyMs).Order().ToArray(), 99), 2),
            ["submit_max_ms_during"] = during.Count == 0 ? null : Math.Round(during.Max(s => s.LatencyMs), 2),
            ["job_latency_before"] = await LatencySummaryAsync(environment, before.Select(s => s.Id).ToList()),
            ["job_latency_during"] = await LatencySummaryAsync(environment, during.Select(s => s.Id).ToList()),
            ["load_average_before"] = loadBefore,
            ["load_average_during"] = loadDuring,
        };
    }

    private static async Task<JsonObject?> RetentionRunAsync(BenchEnvironment environment, DateTimeOffset since)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT started_at, finished_at, affected, details::text, error FROM llm_maintenance_runs WHERE task = 'retention' AND started_at >= $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = since });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            return null;
        }

        return new JsonObject
        {
            ["started_at"] = reader.GetDateTime(0),
            ["finished_at"] = reader.GetDateTime(1),
            ["deleted"] = reader.GetInt32(2),
            ["details"] = reader.IsDBNull(3) ? null : JsonNode.Parse(reader.GetString(3)),
            ["error"] = reader.IsDBNull(4) ? null : reader.GetString(4),
        };
    }

    private static async Task<JsonObject> LatencySummaryAsync(BenchEnvironment environment, List<Guid> ids)
    {
        var latencies = await JobLatenciesAsync(environment, ids);
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT coalesce(max(gap), 0) FROM (
              SELECT EXTRACT(EPOCH FROM completed_at - lag(completed_at) OVER (ORDER BY completed_at)) * 1000 AS gap
                FROM llm_workflow_jobs WHERE id = ANY($1)) g
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
        var gap = Convert.ToDouble(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        return new JsonObject
        {
            ["jobs"] = ids.Count,
            ["p50_ms"] = Math.Round(Percentiles.Of(latencies, 50), 1),
            ["p99_ms"] = Math.Round(Percentiles.Of(latencies, 99), 1),
            ["max_ms"] = latencies.Length == 0 ? null : Math.Round(latencies[^1], 1),
            ["longest_gap_between_completions_ms"] = Math.Round(gap, 1),
        };
    }

    private static async Task<double[]> JobLatenciesAsync(BenchEnvironment environment, List<Guid> ids)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT EXTRACT(EPOCH FROM completed_at - created_at)::float8 * 1000 FROM llm_workflow_jobs WHERE id = ANY($1) ORDER BY 1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
        var values = new List<double>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetDouble(0));
        }

        return [.. values];
    }

    /// <summary>Ids for the status requests: random seeded jobs of the bench key's tenant, or the jobs this run submitted.</summary>
    private static async Task<List<Guid>> StatusIdsAsync(BenchEnvironment environment, long jobs)
    {
        if (jobs == 0)
        {
            await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id FROM llm_workflow_jobs ORDER BY random() LIMIT 1000", connection);
            await using var reader = await command.ExecuteReaderAsync();
            var ids = new List<Guid>();
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetGuid(0));
            }

            return ids;
        }

        // Tenant main-app is i % 10 < 6; skip the old window (the retention phase deletes it).
        return Enumerable.Range(0, 1000)
            .Select(_ => Random.Shared.NextInt64(ScaleSeeder.OldWindow(jobs) / 10 + 100, jobs / 10) * 10 + Random.Shared.Next(6))
            .Select(i => Guid.ParseExact(Convert.ToHexStringLower(MD5.HashData(Encoding.ASCII.GetBytes($"job-{i}"))), "N"))
            .ToList();
    }

    private static async Task<JsonObject> DescribeDatabaseAsync(BenchEnvironment environment) => new()
    {
        ["jobs"] = await environment.CountAsync("SELECT reltuples::bigint FROM pg_class WHERE relname = 'llm_workflow_jobs'"),
        ["steps"] = await environment.CountAsync("SELECT reltuples::bigint FROM pg_class WHERE relname = 'llm_job_steps'"),
        ["usage_rows"] = await environment.CountAsync("SELECT reltuples::bigint FROM pg_class WHERE relname = 'llm_provider_usage'"),
        ["size_mb"] = await environment.CountAsync("SELECT pg_database_size(current_database()) / 1048576"),
    };

    private sealed record Submission(Guid Id, DateTimeOffset SentAt, double LatencyMs);

    /// <summary>Open loop at <paramref name="rate"/>/s for <paramref name="seconds"/>: ids and sorted latencies.</summary>
    private static async Task<(List<Guid> Ids, double[] Latencies)> SubmitOpenLoopAsync(HttpClient caller, int rate, int seconds)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var submitted = await SubmitUntilAsync(caller, rate, stop.Token);
        return (submitted.Select(s => s.Id).ToList(), submitted.Select(s => s.LatencyMs).Order().ToArray());
    }

    /// <summary>Submits at a fixed rate (request i at i / rate seconds, whether earlier ones answered or not) until cancelled.</summary>
    private static async Task<List<Submission>> SubmitUntilAsync(HttpClient caller, int rate, CancellationToken stop)
    {
        var tasks = new List<Task<Submission>>();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var wait = TimeSpan.FromSeconds((double)i / rate) - Stopwatch.GetElapsedTime(started);
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                try
                {
                    await Task.Delay(wait, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            var index = i;
            tasks.Add(Task.Run(async () =>
            {
                var sentAt = DateTimeOffset.UtcNow;
                var begin = Stopwatch.GetTimestamp();
                // Every tenth job belongs to the listed user, so "list by user" finds jobs in an empty database too.
                using var response = await caller.PostAsJsonAsync("/api/v1/workflow", new
                {
                    workflow_name = "bench_transform",
                    input_data = new { name = $"job {index}" },
                    user_id = index % 10 == 0 ? ListedUser : $"user-{1 + index % 19999:00000}",
                });
                var latency = Stopwatch.GetElapsedTime(begin).TotalMilliseconds;
                response.EnsureSuccessStatusCode();
                var body = await response.Content.ReadFromJsonAsync<JsonObject>();
                return new Submission(Guid.Parse(body!["job_id"]!.GetValue<string>()), sentAt, latency);
            }));
        }

        return [.. await Task.WhenAll(tasks)];
    }

    /// <summary>Sends the GETs one after another (no concurrency: latency of the query, not of queueing) and returns sorted latencies.</summary>
    private static async Task<double[]> TimeGetsAsync(HttpClient client, IEnumerable<string> urls)
    {
        var latencies = new List<double>();
        foreach (var url in urls)
        {
            var begin = Stopwatch.GetTimestamp();
            using var response = await client.GetAsync(new Uri(url, UriKind.Relative), HttpCompletionOption.ResponseContentRead);
            latencies.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            if (!response.IsSuccessStatusCode)
            {
                // Kept as a figure (a timeout is a result too) and reported beside it.
                var error = $"GET {url} answered {(int)response.StatusCode} after {latencies[^1]:F0} ms";
                Errors.Add(error);
                Log(error);
            }
        }

        return [.. latencies.Order()];
    }

    private static async Task<double> TimeRequestAsync(HttpClient client, HttpMethod method, string url)
    {
        var begin = Stopwatch.GetTimestamp();
        using var response = await client.SendAsync(new HttpRequestMessage(method, new Uri(url, UriKind.Relative)));
        var elapsed = Stopwatch.GetElapsedTime(begin).TotalMilliseconds;
        if (!response.IsSuccessStatusCode)
        {
            Errors.Add($"{method} {url} answered {(int)response.StatusCode} after {elapsed:F0} ms");
        }

        return elapsed;
    }

    private static async Task WaitForCompletedAsync(BenchEnvironment environment, List<Guid> ids)
    {
        var waited = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync();
        while (true)
        {
            await using var command = new NpgsqlCommand("SELECT count(*) FROM llm_workflow_jobs WHERE id = ANY($1) AND status = 'completed'", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
            if ((long)(await command.ExecuteScalarAsync())! >= ids.Count)
            {
                return;
            }

            if (waited.Elapsed > TimeSpan.FromMinutes(10))
            {
                throw new TimeoutException("Submitted jobs did not complete within 10 minutes.");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>
    /// The keyset page after the 10,000th job of the list (the deep page's rows, by cursor); on a database with fewer
    /// jobs, the second page.
    /// </summary>
    private static async Task<string> DeepCursorQueryAsync(HttpClient caller)
    {
        var deep = await caller.GetFromJsonAsync<JsonObject>("/api/v1/jobs?offset=9950&limit=50");
        var cursor = (string?)deep!["next_cursor"] ?? (string?)(await caller.GetFromJsonAsync<JsonObject>("/api/v1/jobs"))!["next_cursor"];
        return cursor is null ? "/api/v1/jobs" : $"/api/v1/jobs?cursor={cursor}";
    }

    private static HttpClient Client(BenchEnvironment environment, string key)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = environment.ApiUrl, Timeout = TimeSpan.FromMinutes(10) };
        client.DefaultRequestHeaders.Add("X-API-Key", key);
        return client;
    }

    private static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0..3].Aggregate((a, b) => a + " " + b);

    private static void Log(string message) => Console.Error.WriteLine($"[scale {DateTime.UtcNow:HH:mm:ss}] {message}");
}
