using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmWorkflow.LoadTest;

/// <summary>The three measurements of bench/README.md; each prints one JSON line.</summary>
internal static class Scenarios
{
    /// <summary>
    /// Open-loop submissions at a fixed rate: latency percentiles and the rate actually achieved. With
    /// <paramref name="workers"/> &gt; 0 those workers drain the flow as it arrives (a steady flow, not a burst), and
    /// the figures add how long each job waited for its claim (<c>started_at − created_at</c>) and in all
    /// (<c>completed_at − created_at</c>), from Postgres, the CPU each process group spent per job and the round trips per job.
    /// </summary>
    public static async Task<JsonObject> SubmitLatencyAsync(BenchEnvironment environment, int rate, int seconds, int workers = 0)
    {
        await environment.StartApiAsync();
        StartDrainingWorkers(environment, workers);

        await WaitForWorkersAsync(environment, workers);
        using var submitter = new Submitter(environment.ApiUrl).Configure();
        const int warmUp = 3000;
        await submitter.SubmitManyAsync("bench_transform", warmUp, i => new { name = $"warmup {i}" }, concurrency: 16);
        var warmUpSent = Stopwatch.GetTimestamp();
        if (workers > 0)
        {
            await WaitForCompletedAsync(environment, warmUp, warmUpSent);
        }

        await using var roundTrips = workers > 0 ? await RoundTripMeter.StartAsync(environment) : null;
        var meter = new CpuMeter(environment);
        var cpuBefore = meter.Read();

        var total = rate * seconds;
        var latencies = new double[total];
        var errors = 0;
        var started = Stopwatch.GetTimestamp();
        var tasks = new List<Task>(total);
        for (var i = 0; i < total; i++)
        {
            // Open loop: request i is sent at its scheduled time whether or not earlier ones have answered.
            var due = TimeSpan.FromSeconds((double)i / rate);
            var wait = due - Stopwatch.GetElapsedTime(started);
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait);
            }

            var index = i;
            tasks.Add(Task.Run(async () =>
            {
                var latency = await submitter.SubmitAsync("bench_transform", new { name = $"job {index}" });
                if (latency is { } ms)
                {
                    latencies[index] = ms;
                }
                else
                {
                    Interlocked.Increment(ref errors);
                    latencies[index] = double.NaN;
                }
            }));
        }

        await Task.WhenAll(tasks);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var sorted = latencies.Where(l => !double.IsNaN(l)).Order().ToArray();
        var result = new JsonObject
        {
            ["scenario"] = "submit_latency",
            ["target_rps"] = rate,
            ["requests"] = total,
            ["errors"] = errors,
            ["achieved_rps"] = Math.Round(total / elapsed, 1),
            ["p50_ms"] = Math.Round(Percentiles.Of(sorted, 50), 2),
            ["p95_ms"] = Math.Round(Percentiles.Of(sorted, 95), 2),
            ["p99_ms"] = Math.Round(Percentiles.Of(sorted, 99), 2),
            ["max_ms"] = Math.Round(sorted[^1], 2),
        };
        if (workers > 0)
        {
            await WaitForCompletedAsync(environment, warmUp + total - errors, started);
            result["workers"] = workers;
            result["claim_wait_ms"] = await JobLatencyAsync(environment, "started_at");
            result["job_latency_ms"] = await JobLatencyAsync(environment, "completed_at");
            result["cpu_ms_per_job"] = CpuMeter.Split(cpuBefore, meter.Read(), total - errors);
            result["round_trips_per_job"] = await roundTrips!.PerJobAsync(total - errors);
        }

        return result;
    }

    /// <summary>p50, p99 and max of <c><paramref name="column"/> − created_at</c> over the measured jobs (not the warm-up's), ms.</summary>
    private static async Task<JsonObject> JobLatencyAsync(BenchEnvironment environment, string column)
    {
        var figures = await environment.ScalarAsync<double[]>($"""
            SELECT ARRAY[percentile_disc(0.5) WITHIN GROUP (ORDER BY ms), percentile_disc(0.99) WITHIN GROUP (ORDER BY ms), max(ms)]
              FROM (SELECT EXTRACT(EPOCH FROM {column} - created_at)::float8 * 1000 AS ms FROM llm_workflow_jobs
                     WHERE input_data->>'name' LIKE 'job %') AS jobs
            """);
        return new JsonObject
        {
            ["p50"] = Math.Round(figures[0], 1),
            ["p99"] = Math.Round(figures[1], 1),
            ["max"] = Math.Round(figures[2], 1),
        };
    }

    /// <summary>
    /// End-to-end throughput of a one-transform workflow: a backlog is queued first, then N workers drain it.
    /// Jobs/s is measured on the completion timestamps Postgres recorded (every job durable before it counts).
    /// </summary>
    public static async Task<JsonObject> ThroughputAsync(BenchEnvironment environment, int jobs, int workers)
    {
        await environment.StartApiAsync();
        using (var submitter = new Submitter(environment.ApiUrl).Configure())
        {
            await submitter.SubmitManyAsync("bench_transform", jobs, i => new { name = $"job {i}" });
        }

        var meter = new CpuMeter(environment);
        var cpuBefore = meter.Read();
        var started = Stopwatch.GetTimestamp();
        StartDrainingWorkers(environment, workers);

        await WaitForCompletedAsync(environment, jobs, started);
        var cpuAfter = meter.Read();
        var window = await environment.CountAsync(
            "SELECT (EXTRACT(EPOCH FROM max(completed_at) - min(started_at)) * 1000)::bigint FROM llm_workflow_jobs");
        return new JsonObject
        {
            ["scenario"] = "throughput",
            ["fsync"] = !environment.FsyncOff,
            ["cpu_ms_per_job"] = CpuMeter.Split(cpuBefore, cpuAfter, jobs),
            ["workflow"] = "bench_transform",
            ["workers"] = workers,
            ["jobs"] = jobs,
            ["completed_in_postgres"] = await environment.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE status = 'completed'"),
            ["drain_seconds"] = Math.Round(window / 1000.0, 2),
            ["jobs_per_second"] = Math.Round(jobs / (window / 1000.0), 1),
        };
    }

    /// <summary>The client's warm-up before S2's window: <c>LLMWF_BENCH_WARMUP</c> jobs (bench/run.sh passes its
    /// <c>WARMUP</c>, which the yardsticks read too), 50 by default as issue 59 states it.</summary>
    private static int WarmUpJobs() =>
        int.TryParse(Environment.GetEnvironmentVariable("LLMWF_BENCH_WARMUP"), out var jobs) && jobs > 0 ? jobs : 50;

    /// <summary>The client's warm-up before S1's window: <c>LLMWF_BENCH_WARMUP_REQUESTS</c> submissions (bench/run.sh
    /// passes its <c>WARMUP_REQUESTS</c>), 100 by default as issue 59 states it; 0 measures the fresh API itself.</summary>
    private static int WarmUpRequests() =>
        int.TryParse(Environment.GetEnvironmentVariable("LLMWF_BENCH_WARMUP_REQUESTS"), out var requests) && requests >= 0 ? requests : 100;

    /// <summary>
    /// The product path end to end (S2): the API and <paramref name="workers"/> workers start cold (the load generator
    /// warms its own code first, against a stand-in), then
    /// <paramref name="jobs"/> one-transform jobs are submitted over HTTP at <paramref name="concurrency"/> while the
    /// workers drain them. Jobs/s = jobs / (last <c>completed_at</c> − first <c>created_at</c>) from Postgres; the
    /// CPU each process group spent over the whole run is reported per job. With <paramref name="llmLatencyMs"/> the
    /// jobs are <c>bench_llm</c> instead (one LLM call each, to the in-process fake answering after that many ms, whose
    /// CPU counts as the client's).
    /// </summary>
    public static async Task<JsonObject> EndToEndAsync(BenchEnvironment environment, int jobs, int workers, int concurrency, int? llmLatencyMs = null)
    {
        await using var llm = llmLatencyMs is { } latency ? await FakeLlmServer.StartAsync(TimeSpan.FromMilliseconds(latency), https: false) : null;
        if (llm is not null)
        {
            await llm.WarmUpAsync(concurrency);
            llm.ConfigureServices(environment.Settings);
        }

        var (workflow, input) = llm is null
            ? ("bench_transform", (Func<int, object>)(i => new { name = $"job {i}" }))
            : ("bench_llm", i => new { question = $"question {i}" });
        await environment.StartApiAsync();
        StartDrainingWorkers(environment, workers);

        await WaitForWorkersAsync(environment, workers);
        await LoadGeneratorWarmup.RunAsync(jobs, concurrency);
        // A warm-up from the client, as the yardsticks get (bench/yardsticks/run.sh): WARMUP (50) jobs submitted and
        // drained before the window, which then counts only the measured jobs.
        var warmUp = WarmUpJobs();
        await SubmissionClient.SubmitManyAsync(environment.ApiUrl, workflow, warmUp, input, concurrency);
        await WaitForCompletedAsync(environment, warmUp, Stopwatch.GetTimestamp());
        await using var roundTrips = await RoundTripMeter.StartAsync(environment);
        var meter = new CpuMeter(environment);
        var cpuBefore = meter.Read();
        var started = Stopwatch.GetTimestamp();
        // Issue 59's memory check: each service's RSS once 5,000 measured jobs are done, against its RSS at the end.
        var rssAfter5000 = jobs > 5_000 ? ResidentSetAfterAsync(environment, warmUp + 5_000, started) : null;
        double[] latencies = [.. (await SubmissionClient.SubmitManyAsync(environment.ApiUrl, workflow, jobs, input, concurrency)).Order()];

        var submitSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await WaitForCompletedAsync(environment, warmUp + jobs, started);
        var cpuAfter = meter.Read();
        var rssAtEnd = ResidentSetMb(environment);
        var window = await environment.CountAsync($"""
            SELECT (EXTRACT(EPOCH FROM max(completed_at) - min(created_at)) * 1000)::bigint
              FROM (SELECT created_at, completed_at FROM llm_workflow_jobs ORDER BY created_at OFFSET {warmUp}) measured
            """);
        return new JsonObject
        {
            ["scenario"] = "end_to_end",
            ["client"] = SubmissionClient.IsNode ? "node" : "dotnet",
            ["fsync"] = !environment.FsyncOff,
            ["workflow"] = workflow,
            ["llm_latency_ms"] = llmLatencyMs,
            ["workers"] = workers,
            ["jobs"] = jobs,
            ["concurrency"] = concurrency,
            ["warmup"] = warmUp,
            ["jobs_per_second"] = Math.Round(jobs / (window / 1000.0), 1),
            ["seconds"] = Math.Round(window / 1000.0, 2),
            ["submit_rps"] = Math.Round(jobs / submitSeconds, 1),
            ["submit_p50_ms"] = Math.Round(Percentiles.Of(latencies, 50), 2),
            ["submit_p99_ms"] = Math.Round(Percentiles.Of(latencies, 99), 2),
            ["cpu_ms_per_job"] = CpuMeter.Split(cpuBefore, cpuAfter, jobs),
            ["round_trips_per_job"] = await roundTrips.PerJobAsync(jobs),
            ["rss_mb_after_5000"] = rssAfter5000 is null ? null : await rssAfter5000,
            ["rss_mb_at_end"] = rssAtEnd,
            ["peak_rss_mb"] = ResidentSetMb(environment, "VmHWM:"),
        };
    }

    /// <summary>Each service's resident set (<c>VmRSS</c>, or <paramref name="field"/>) in MB, by role (the first
    /// process of each: one API, one worker in e2e).</summary>
    private static JsonObject ResidentSetMb(BenchEnvironment environment, string field = "VmRSS:") =>
        new(environment.Services.GroupBy(s => s.Role)
            .Select(g => KeyValuePair.Create(g.Key, (JsonNode?)Math.Round(StatusKb(g.First().Process.Id, field) / 1024.0, 1))));

    private static async Task<JsonObject> ResidentSetAfterAsync(BenchEnvironment environment, int completed, long started)
    {
        // Polled once a second: this runs beside the measured window.
        await WaitForCompletedAsync(environment, completed, started, pollMs: 1000);
        return ResidentSetMb(environment);
    }

    /// <summary>S1: <paramref name="requests"/> submissions at <paramref name="concurrency"/> (closed loop) to a fresh API after the
    /// client's warm-up, no workers; the warm-up's first wave is the cold row.</summary>
    /// <param name="emptyApi">The yardstick instead of the API: bench/EmptyApi, which only parses each submission and
    /// answers 202, published as the API is (what a fresh .NET process of that shape costs on this machine).</param>
    public static async Task<JsonObject> BurstAsync(BenchEnvironment environment, int requests, int concurrency, bool emptyApi = false)
    {
        if (emptyApi && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("LLMWF_BENCH_PUBLISHED")))
        {
            throw new InvalidOperationException("burst-empty-api runs bench/EmptyApi as published: set LLMWF_BENCH_PUBLISHED (bench/run.sh burst does).");
        }

        await environment.StartApiAsync(emptyApi ? "EmptyApi.dll" : "LlmWorkflow.Api.dll");
        // The API is fresh; the load generator is not part of it, so its own first requests go elsewhere.
        await LoadGeneratorWarmup.RunAsync(requests, concurrency);
        // The client's warm-up (WARMUP_REQUESTS, 100 as issue 59 states it), whose first wave (the first `concurrency`
        // requests, sent at once to the fresh API) is the cold row; the window after it is S1 warm.
        var warmUp = WarmUpRequests();
        var cold = warmUp > 0
            ? await SubmissionClient.SubmitManyAsync(environment.ApiUrl, "bench_transform", warmUp, i => new { name = $"warm-up {i}" }, concurrency)
            : [];
        var firstWave = cold.Take(concurrency).ToArray();
        var meter = new CpuMeter(environment);
        var cpuBefore = meter.Read();
        var started = Stopwatch.GetTimestamp();
        var sent = await SubmissionClient.SubmitManyAsync(environment.ApiUrl, "bench_transform", requests, i => new { name = $"job {i}" }, concurrency);

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        double[] latencies = [.. sent.Order()];
        double[] windowFirstWave = [.. sent.Take(concurrency)];
        double[] rest = [.. sent.Skip(concurrency).Order()];
        return new JsonObject
        {
            ["scenario"] = emptyApi ? "burst_empty_api" : "burst",
            ["client"] = SubmissionClient.IsNode ? "node" : "dotnet",
            ["fsync"] = !environment.FsyncOff,
            ["requests"] = requests,
            ["concurrency"] = concurrency,
            ["warmup_requests"] = warmUp,
            ["requests_per_second"] = Math.Round(requests / seconds, 1),
            ["p50_ms"] = Math.Round(Percentiles.Of(latencies, 50), 2),
            ["p99_ms"] = Math.Round(Percentiles.Of(latencies, 99), 2),
            // The cold row: the fresh API's first wave (the warm-up's, or without one the window's own).
            ["cold_first_wave_p99_ms"] = Math.Round(Percentiles.Of([.. (warmUp > 0 ? firstWave : windowFirstWave).Order()], 99), 2),
            ["first_wave_ms_min"] = Math.Round(windowFirstWave.Min(), 2),
            ["first_wave_ms_max"] = Math.Round(windowFirstWave.Max(), 2),
            ["after_first_wave_p99_ms"] = Math.Round(Percentiles.Of(rest, 99), 2),
            ["cpu_ms_per_request"] = CpuMeter.Split(cpuBefore, meter.Read(), requests),
        };
    }

    /// <summary>
    /// Cold start (issue 59), as a worker scaled out onto a running system meets it: a first worker runs one job (so
    /// the stream's consumer group exists) and stops; one <c>bench_transform</c> job is queued while no worker runs;
    /// then a fresh worker process starts with the shipped settings. From the moment the tool starts that process to
    /// its "Worker started" line, to the job's claim (<c>started_at</c>) and to its <c>completed_at</c>. The tool and
    /// PostgreSQL share the machine's clock.
    /// </summary>
    public static async Task<JsonObject> ColdStartAsync(BenchEnvironment environment)
    {
        await environment.StartApiAsync();
        using var submitter = new Submitter(environment.ApiUrl).Configure();
        var first = environment.StartWorker("bench-first-worker");
        await submitter.SubmitManyAsync("bench_transform", 1, _ => new { name = "first worker" });
        await WaitForCompletedAsync(environment, 1, Stopwatch.GetTimestamp());
        await environment.StopAsync(first);
        // The 202 comes after the job's row is committed and its stream entry written (SubmissionBatcher).
        await submitter.SubmitManyAsync("bench_transform", 1, _ => new { name = "cold start" });
        var job = await environment.ScalarAsync<Guid>("SELECT id FROM llm_workflow_jobs WHERE status = 'queued'");

        var processStart = DateTimeOffset.UtcNow;
        var started = Stopwatch.GetTimestamp();
        environment.StartWorker("bench-cold-worker");
        // Every figure is a timestamp the worker or PostgreSQL wrote, so the poll only decides when to stop: slow
        // enough that its queries take little of the two cores the starting worker needs.
        while (await environment.CountAsync($"SELECT count(*) FROM llm_workflow_jobs WHERE status = 'completed' AND id = '{job}'") < 1)
        {
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException("The queued job was not done within 2 minutes of the worker's start.");
            }

            await Task.Delay(50);
        }

        // The worker's own log line (JSON, with its Timestamp, at the shipped level).
        var startedLine = environment.WorkerOutput.LastOrDefault(l =>
            l.Contains("Worker started", StringComparison.Ordinal) && l.Contains("bench-cold-worker", StringComparison.Ordinal));
        var loggedAt = startedLine is null ? (DateTimeOffset?)null
            : DateTimeOffset.Parse((string)JsonNode.Parse(startedLine)!["Timestamp"]!, CultureInfo.InvariantCulture);
        var startUnixMs = processStart.ToUnixTimeMilliseconds();
        return new JsonObject
        {
            ["scenario"] = "cold_start",
            ["worker_started_log_ms"] = loggedAt is { } at ? Math.Round((at - processStart).TotalMilliseconds, 1) : null,
            ["claimed_ms"] = await environment.CountAsync(
                $"SELECT (EXTRACT(EPOCH FROM started_at) * 1000)::bigint - {startUnixMs} FROM llm_workflow_jobs WHERE id = '{job}'"),
            ["first_job_done_ms"] = await environment.CountAsync(
                $"SELECT (EXTRACT(EPOCH FROM completed_at) * 1000)::bigint - {startUnixMs} FROM llm_workflow_jobs WHERE id = '{job}'"),
        };
    }

    /// <summary>
    /// A job's live events as a caller watches them: the API and one worker; <paramref name="jobs"/> jobs,
    /// <paramref name="concurrency"/> at a time, each submitted and then watched over SSE by the independent Node client
    /// <c>bench/node/events.mjs</c> (the <c>eventsource</c> package) from its 202 to its terminal event.
    /// </summary>
    /// <param name="llmLatencyMs">With a value, <c>bench_llm</c> jobs whose one LLM call answers after that many ms, so
    /// their later events arrive while the stream is open (the live path) rather than from its history.</param>
    public static async Task<JsonObject> EventsAsync(BenchEnvironment environment, int jobs, int concurrency, int? llmLatencyMs = null)
    {
        await using var llm = llmLatencyMs is { } latency ? await FakeLlmServer.StartAsync(TimeSpan.FromMilliseconds(latency), https: false) : null;
        if (llm is not null)
        {
            await llm.WarmUpAsync(concurrency);
            llm.ConfigureServices(environment.Settings);
        }

        await environment.StartApiAsync();
        StartDrainingWorkers(environment, 1);
        await WaitForWorkersAsync(environment, 1);
        var output = await NodeScript.RunAsync("events.mjs", environment.ApiUrl.ToString().TrimEnd('/'), BenchEnvironment.CallerKey,
            llm is null ? "bench_transform" : "bench_llm", jobs.ToString(CultureInfo.InvariantCulture), concurrency.ToString(CultureInfo.InvariantCulture));
        var result = JsonNode.Parse(output.Trim().Split('\n')[^1])!.AsObject();
        result["scenario"] = "events";
        result["client"] = "node";
        result["fsync"] = !environment.FsyncOff;
        result["llm_latency_ms"] = llmLatencyMs;
        return result;
    }

    /// <summary>Starts <paramref name="workers"/> worker processes with 256 slots each, as the drain scenarios run them.</summary>
    private static void StartDrainingWorkers(BenchEnvironment environment, int workers)
    {
        for (var w = 1; w <= workers; w++)
        {
            environment.StartWorker($"bench-worker-{w}", new() { ["Worker__MaxConcurrentJobs"] = "256" });
        }
    }

    internal static async Task WaitForWorkersAsync(BenchEnvironment environment, int workers)
    {
        // A worker is ready once its consumer runs (it logs "Worker started" at Information, the shipped level).
        var started = Stopwatch.GetTimestamp();
        while (!WorkersStarted(environment, workers))
        {
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException("Workers did not start within 2 minutes.");
            }

            await Task.Delay(100);
        }
    }

    private static bool WorkersStarted(BenchEnvironment environment, int workers) =>
        environment.WorkerOutput.Count(l => l.Contains("Worker started", StringComparison.Ordinal)) >= workers;

    private static async Task WaitForCompletedAsync(BenchEnvironment environment, int jobs, long started, int pollMs = 100)
    {
        while (await environment.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE status = 'completed'") < jobs)
        {
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(5))
            {
                throw new TimeoutException("Jobs did not complete within 5 minutes.");
            }

            await Task.Delay(pollMs);
        }
    }

    /// <summary>
    /// I/O-bound concurrency: many jobs each waiting on a 1 s LLM call, in one worker process. Makespan is from the
    /// first job start to the last completion; peak memory is the worker's VmHWM. With <paramref name="waves"/> &gt; 1
    /// (a diagnostic: what a warm worker does, its code compiled and its connections open) the same worker runs that
    /// many waves one after the other, each queued whole while the worker is paused (SIGSTOP), as the first is queued
    /// before it starts; the figures are the last wave's.
    /// </summary>
    public static async Task<JsonObject> IoConcurrencyAsync(BenchEnvironment environment, int jobs, TimeSpan latency, bool https = false, int waves = 1)
    {
        await using var llm = await FakeLlmServer.StartAsync(latency, https);
        await llm.WarmUpAsync(jobs);
        llm.ConfigureServices(environment.Settings);
        await environment.StartApiAsync();
        using var submitter = new Submitter(environment.ApiUrl).Configure();
        // The jobs of the wave being measured, as a condition on llm_workflow_jobs: those created after the newest job
        // before it (a database kept with LLMWF_BENCH_PG_DIR holds earlier runs' finished jobs).
        var wave = await CreatedAfterNewestJobAsync(environment);
        await submitter.SubmitManyAsync("bench_llm", jobs, i => new { question = $"question {i}" });

        var worker = environment.StartWorker("bench-io-worker", new() { ["Worker__MaxConcurrentJobs"] = jobs.ToString(CultureInfo.InvariantCulture) });
        long peakKb = 0;
        for (var w = 1; ; w++)
        {
            var started = Stopwatch.GetTimestamp();
            while (await environment.CountAsync($"SELECT count(*) FROM llm_workflow_jobs WHERE status IN ('completed', 'failed') AND {wave}") < jobs)
            {
                peakKb = Math.Max(peakKb, PeakMemoryKb(worker.Id));
                if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(3))
                {
                    throw new TimeoutException("Jobs did not complete within 3 minutes.");
                }

                await Task.Delay(100);
            }

            if (w == waves)
            {
                break;
            }

            wave = await CreatedAfterNewestJobAsync(environment);
            Signal(worker, "STOP");
            await submitter.SubmitManyAsync("bench_llm", jobs, i => new { question = $"question {i}" });
            llm.ForgetArrivals();
            Signal(worker, "CONT");
        }

        peakKb = Math.Max(peakKb, PeakMemoryKb(worker.Id));
        var makespanMs = await environment.CountAsync(
            $"SELECT (EXTRACT(EPOCH FROM max(completed_at) - min(started_at)) * 1000)::bigint FROM llm_workflow_jobs WHERE {wave}");
        var firstStartMs = await environment.CountAsync($"SELECT (EXTRACT(EPOCH FROM min(started_at)) * 1000)::bigint FROM llm_workflow_jobs WHERE {wave}");
        var arrivals = llm.Arrivals ?? throw new InvalidOperationException("No request reached the fake LLM.");
        return new JsonObject
        {
            ["scenario"] = "io_concurrency",
            ["jobs"] = jobs,
            ["llm_latency_ms"] = latency.TotalMilliseconds,
            ["https"] = https,
            ["waves"] = waves,
            ["completed"] = await environment.CountAsync($"SELECT count(*) FROM llm_workflow_jobs WHERE status = 'completed' AND {wave}"),
            ["makespan_seconds"] = Math.Round(makespanMs / 1000.0, 2),
            ["worker_peak_memory_mb"] = Math.Round(peakKb / 1024.0, 1),
            // Where the makespan goes: claims spread over time, LLM steps taking longer than the fake's latency, or
            // the time between a job's last step and its finish.
            ["claim_spread_ms"] = await environment.CountAsync(
                $"SELECT (EXTRACT(EPOCH FROM max(started_at) - min(started_at)) * 1000)::bigint FROM llm_workflow_jobs WHERE {wave}"),
            ["llm_step_ms_p50"] = await environment.CountAsync(
                $"SELECT (percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms))::bigint FROM llm_job_steps WHERE step_type = 'llm' AND job_id IN (SELECT id FROM llm_workflow_jobs WHERE {wave})"),
            ["llm_step_ms_max"] = await environment.CountAsync($"SELECT max(duration_ms)::bigint FROM llm_job_steps WHERE step_type = 'llm' AND job_id IN (SELECT id FROM llm_workflow_jobs WHERE {wave})"),
            ["first_step_start_ms"] = await environment.CountAsync(
                $"SELECT (EXTRACT(EPOCH FROM (SELECT min(s.started_at) FROM llm_job_steps s WHERE s.job_id IN (SELECT id FROM llm_workflow_jobs WHERE {wave})) - min(started_at)) * 1000)::bigint FROM llm_workflow_jobs WHERE {wave}"),
            ["last_step_start_ms"] = await environment.CountAsync(
                $"SELECT (EXTRACT(EPOCH FROM (SELECT max(s.started_at) FROM llm_job_steps s WHERE s.job_id IN (SELECT id FROM llm_workflow_jobs WHERE {wave})) - min(started_at)) * 1000)::bigint FROM llm_workflow_jobs WHERE {wave}"),
            // When the fake provider received the wave's first and last request, from the first job start: a request
            // leaves only once its job's start has run and the worker's thread pool has sent it.
            ["first_request_ms"] = arrivals.First - firstStartMs,
            ["last_request_ms"] = arrivals.Last - firstStartMs,
            ["last_step_end_to_last_finish_ms"] = await environment.CountAsync(
                $"SELECT (EXTRACT(EPOCH FROM max(completed_at) - (SELECT max(s.finished_at) FROM llm_job_steps s WHERE s.job_id IN (SELECT id FROM llm_workflow_jobs WHERE {wave}))) * 1000)::bigint FROM llm_workflow_jobs WHERE {wave}"),
        };
    }

    private static async Task<string> CreatedAfterNewestJobAsync(BenchEnvironment environment)
    {
        var newest = await environment.CountAsync("SELECT COALESCE((EXTRACT(EPOCH FROM max(created_at)) * 1000000)::bigint, 0) FROM llm_workflow_jobs");
        return $"created_at > 'epoch'::timestamptz + {newest} * interval '1 microsecond'";
    }

    private static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {process.Id}");
        kill.WaitForExit();
    }

    /// <summary>
    /// Who runs a job, and how fast a dead worker's jobs move: <paramref name="jobs"/> jobs wait on a long LLM call in
    /// one worker ("doomed") with the default lease settings. Over a steady window it counts, per running job and per
    /// lease tick, the job-row updates in PostgreSQL and the stream commands in Redis (INFO commandstats). Then a
    /// second worker starts, the first is killed (SIGKILL), and the scenario times until the survivor has claimed
    /// every job: from the kill, and from the moment the last of the dead worker's leases lapsed.
    /// </summary>
    public static async Task<JsonObject> RecoveryAsync(BenchEnvironment environment, int jobs, int windowSeconds)
    {
        await using var llm = await FakeLlmServer.StartAsync(TimeSpan.FromMinutes(10));
        llm.ConfigureServices(environment.Settings);
        await environment.StartApiAsync();
        var doomed = environment.StartWorker("bench-doomed", new() { ["Worker__MaxConcurrentJobs"] = "1000" });
        await WaitForWorkersAsync(environment, 1);
        using (var submitter = new Submitter(environment.ApiUrl).Configure())
        {
            await submitter.SubmitManyAsync("bench_llm", jobs, i => new { question = $"question {i}" });
        }

        await WaitForCountAsync(environment, jobs, "SELECT count(*) FROM llm_workflow_jobs WHERE status = 'processing' AND lease_owner = 'bench-doomed'");
        await using var redis = await RedisCommandStats.ConnectAsync(environment);
        const string JobUpdates = "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'llm_workflow_jobs'";
        var updatesBefore = await environment.CountAsync(JobUpdates);
        var redisBefore = await StreamCommandCallsAsync(redis);
        await Task.Delay(TimeSpan.FromSeconds(windowSeconds));
        // pg_stat counters are flushed by backends at most once a second: wait for the window's updates to show.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var updatesAfter = await environment.CountAsync(JobUpdates);
        var redisAfter = await StreamCommandCallsAsync(redis);
        var ticks = windowSeconds / (30.0 / 3); // default Worker:LeaseDuration 30 s, renewed every third of it

        environment.StartWorker("bench-survivor", new() { ["Worker__MaxConcurrentJobs"] = "1000" });
        await WaitForWorkersAsync(environment, 2);
        doomed.Kill();
        var killed = Stopwatch.GetTimestamp();
        var killedAt = DateTimeOffset.UtcNow;
        var lastLeaseLapse = await environment.CountAsync(
            "SELECT (EXTRACT(EPOCH FROM max(lease_expires_at)) * 1000)::bigint FROM llm_workflow_jobs WHERE lease_owner = 'bench-doomed'");
        await WaitForCountAsync(environment, jobs, "SELECT count(*) FROM llm_workflow_jobs WHERE status = 'processing' AND lease_owner = 'bench-survivor'");
        var recovered = Stopwatch.GetElapsedTime(killed).TotalSeconds;
        var sinceLapse = (killedAt.ToUnixTimeMilliseconds() + recovered * 1000 - lastLeaseLapse) / 1000.0;
        foreach (var (_, process) in environment.Services.Where(s => s.Role == "worker" && !s.Process.HasExited))
        {
            process.Kill(); // their LLM calls would otherwise hold the fake server's shutdown for its full timeout
        }

        var perJobTick = new JsonObject { ["postgres_job_updates"] = Math.Round((updatesAfter - updatesBefore) / (double)jobs / ticks, 2) };
        foreach (var (command, calls) in redisAfter)
        {
            var delta = calls - redisBefore.GetValueOrDefault(command);
            if (delta > 0)
            {
                perJobTick["redis_" + command] = Math.Round(delta / (double)jobs / ticks, 2);
            }
        }

        return new JsonObject
        {
            ["scenario"] = "recovery",
            ["jobs"] = jobs,
            ["window_seconds"] = windowSeconds,
            ["per_running_job_per_lease_tick"] = perJobTick,
            ["recovery_seconds_after_kill"] = Math.Round(recovered, 2),
            ["recovery_seconds_after_last_lease_lapsed"] = Math.Round(sinceLapse, 2),
        };
    }

    private static async Task WaitForCountAsync(BenchEnvironment environment, int expected, string sql)
    {
        var started = Stopwatch.GetTimestamp();
        while (await environment.CountAsync(sql) < expected)
        {
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(3))
            {
                throw new TimeoutException($"Not reached within 3 minutes: {sql}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Calls so far of each stream command (INFO commandstats), e.g. xclaim, xack, xautoclaim.</summary>
    private static async Task<Dictionary<string, long>> StreamCommandCallsAsync(StackExchange.Redis.ConnectionMultiplexer redis)
    {
        var info = await RedisCommandStats.ReadAsync(redis);
        var calls = new Dictionary<string, long>();
        foreach (var line in info.Split('\n', StringSplitOptions.TrimEntries))
        {
            // cmdstat_xclaim:calls=12,usec=...
            if (line.StartsWith("cmdstat_x", StringComparison.Ordinal) && line.IndexOf(":calls=", StringComparison.Ordinal) is var colon and > 0)
            {
                var value = line[(colon + 7)..];
                calls[line[8..colon]] = long.Parse(value[..value.IndexOf(',', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }

    /// <summary>Peak resident set size (VmHWM) of a process, from /proc.</summary>
    private static long PeakMemoryKb(int pid) => StatusKb(pid, "VmHWM:");

    /// <summary>A kB field of /proc/&lt;pid&gt;/status (<c>VmHWM:</c>, <c>VmRSS:</c>).</summary>
    private static long StatusKb(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
}
