using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// Two tenants on one worker (the shipped 64 slots), every job one LLM call to the in-process fake: the small tenant
/// submits one job every <c>interval</c>: first with the other tenant idle; then beside the big tenant's submission of
/// a backlog of <c>backlog</c> jobs (concurrency 32: both tenants' requests share the API's cores, a diagnostic);
/// then, issue 61's case, once such a backlog is queued and while it drains. Reported: the small tenant's wait
/// (created → started, from the job rows) in each phase, p50 and p95, their ratio to idle (issue 61's target: p95
/// within 2× of idle), and how many backlog jobs were still unfinished at the small tenant's last submission (the
/// phase measured behind a backlog only while one is there). With
/// <c>cap</c> &gt; 0 the big tenant runs with <c>Tenants__main-app__MaxConcurrentJobs=cap</c>; cap 0 is the baseline
/// without it.
/// </summary>
internal static class FairnessScenario
{
    private const string SmallTenant = "tenant-b";
    private const string SmallTenantKey = "bench-tenant-b-key";
    private const string BigTenant = "main-app";

    public static async Task<JsonObject> RunAsync(BenchEnvironment environment, int backlog, int cap, int smallJobs, int intervalMs, int llmLatencyMs)
    {
        await using var llm = await FakeLlmServer.StartAsync(TimeSpan.FromMilliseconds(llmLatencyMs), https: false);
        await llm.WarmUpAsync(32);
        llm.ConfigureServices(environment.Settings);
        environment.Settings["Auth__ApiKeys__0__Name"] = SmallTenant;
        environment.Settings["Auth__ApiKeys__0__Key"] = SmallTenantKey;
        if (cap > 0)
        {
            environment.Settings[$"Tenants__{BigTenant}__MaxConcurrentJobs"] = cap.ToString(CultureInfo.InvariantCulture);
        }

        await environment.StartApiAsync();
        environment.StartWorker("worker-1");
        using var big = new Submitter(environment.ApiUrl).Configure();
        using var small = new Submitter(environment.ApiUrl).Configure(SmallTenantKey);
        // Warm-up from both clients: 50 jobs each, drained before the first phase.
        await big.SubmitManyAsync("bench_llm", 50, i => new { question = $"warm-up {i}" }, concurrency: 16);
        await small.SubmitManyAsync("bench_llm", 50, i => new { question = $"warm-up {i}" }, concurrency: 16);
        await WaitForAllAsync(environment);

        var (idle, _) = await SmallTenantPaceAsync(environment, small, smallJobs, intervalMs, "idle");
        await WaitForAllAsync(environment);

        var backlogSent = Stopwatch.GetTimestamp();
        var backlogTask = big.SubmitManyAsync("bench_llm", backlog, i => new { question = $"backlog {i}" }, concurrency: 32);
        var (loaded, _) = await SmallTenantPaceAsync(environment, small, smallJobs, intervalMs, "loaded");
        await backlogTask;
        await WaitForAllAsync(environment);
        var backlogSeconds = Stopwatch.GetElapsedTime(backlogSent).TotalSeconds;

        await big.SubmitManyAsync("bench_llm", backlog, i => new { question = $"queued {i}" }, concurrency: 32);
        var (queued, backlogLeft) = await SmallTenantPaceAsync(environment, small, smallJobs, intervalMs, "queued");
        await WaitForAllAsync(environment);

        return new JsonObject
        {
            ["scenario"] = "fairness",
            ["backlog"] = backlog,
            ["cap"] = cap,
            ["small_jobs"] = smallJobs,
            ["interval_ms"] = intervalMs,
            ["llm_latency_ms"] = llmLatencyMs,
            ["small_wait_idle_p50_ms"] = Percentiles.Of(idle, 50),
            ["small_wait_idle_p95_ms"] = Percentiles.Of(idle, 95),
            ["small_wait_loaded_p50_ms"] = Percentiles.Of(loaded, 50),
            ["small_wait_loaded_p95_ms"] = Percentiles.Of(loaded, 95),
            ["p95_ratio"] = Math.Round(Percentiles.Of(loaded, 95) / Math.Max(Percentiles.Of(idle, 95), 0.001), 2),
            ["backlog_seconds"] = Math.Round(backlogSeconds, 2),
            ["small_wait_queued_p50_ms"] = Percentiles.Of(queued, 50),
            ["small_wait_queued_p95_ms"] = Percentiles.Of(queued, 95),
            ["queued_p95_ratio"] = Math.Round(Percentiles.Of(queued, 95) / Math.Max(Percentiles.Of(idle, 95), 0.001), 2),
            ["backlog_left_at_last_small_submission"] = backlogLeft,
        };
    }

    /// <summary>
    /// Submits the small tenant's jobs at a steady pace, waits for them, and returns their waits (ms, sorted) with the
    /// count of the big tenant's jobs still unfinished when the last was submitted.
    /// </summary>
    private static async Task<(double[] Waits, long BacklogLeft)> SmallTenantPaceAsync(BenchEnvironment environment, Submitter small, int jobs, int intervalMs, string phase)
    {
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < jobs; i++)
        {
            var due = TimeSpan.FromMilliseconds(i * intervalMs) - Stopwatch.GetElapsedTime(started);
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due);
            }

            await small.SubmitAsync("bench_llm", new { question = $"{phase} {i}" });
        }

        var backlogLeft = await environment.CountAsync(
            $"SELECT count(*) FROM llm_workflow_jobs WHERE tenant_id = '{BigTenant}' AND status NOT IN ('completed', 'failed', 'cancelled')");

        while (await environment.CountAsync(
                   $"SELECT count(*) FROM llm_workflow_jobs WHERE tenant_id = '{SmallTenant}' AND input_data->>'question' LIKE '{phase} %' AND status = 'completed'") < jobs)
        {
            await Task.Delay(100);
        }

        var waits = new List<double>();
        for (var i = 0; i < jobs; i++)
        {
            waits.Add(await environment.ScalarAsync<double>(
                $"SELECT EXTRACT(EPOCH FROM started_at - created_at)::float8 * 1000 FROM llm_workflow_jobs WHERE tenant_id = '{SmallTenant}' AND input_data->>'question' = '{phase} {i}'"));
        }

        return ([.. waits.Order()], backlogLeft);
    }

    private static async Task WaitForAllAsync(BenchEnvironment environment)
    {
        var started = Stopwatch.GetTimestamp();
        while (await environment.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE status NOT IN ('completed', 'failed', 'cancelled')") > 0)
        {
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(10))
            {
                throw new TimeoutException("Jobs did not complete within 10 minutes.");
            }

            await Task.Delay(100);
        }
    }
}
