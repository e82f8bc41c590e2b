using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// The agent step's own cost per turn on the published build (issue 78): the API and one worker with their shipped
/// settings, the model a fake OpenAI-compatible provider answering at once (<see cref="FakeAgentProvider"/>: a
/// <c>tool_calls</c> answer per turn, then a final one), the tool a transform. <c>bench_agent</c> jobs are submitted
/// over HTTP by <paramref name="concurrency"/> closed loops (the next job is submitted when the fake has written the
/// previous one's final answer), <paramref name="jobs"/> jobs of <paramref name="turns"/> turns, then as many of one
/// turn (no tool call: the job's fixed cost). The CPU the services spent (API, worker, PostgreSQL with its
/// backends, Redis; from /proc) in the first phase minus the second, over the turns added, is the cost of one turn
/// with its tool call; the fake's gap between writing an answer and receiving the next request is the latency the
/// service adds per tool call, the model excluded. The fake's CPU counts as the client's.
/// </summary>
internal static class AgentScenario
{
    public static async Task<JsonObject> RunAsync(BenchEnvironment environment, int jobs, int turns, int concurrency)
    {
        if (turns < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(turns), "turns must be 2 or more: the one-turn jobs are the baseline.");
        }

        var loadBefore = LoadAverage();
        await using var provider = await FakeAgentProvider.StartAsync();
        provider.ConfigureServices(environment.Settings);
        await environment.StartApiAsync();
        environment.StartWorker("bench-agent-worker");
        await Scenarios.WaitForWorkersAsync(environment, 1);
        using var submitter = new Submitter(environment.ApiUrl).Configure();
        var phases = new Phases(environment, provider, submitter, concurrency);
        // Warm-up of both kinds (JIT, pools, prepared statements), not measured. The one-turn jobs go last: measured
        // first, they met the API's tier-1 recompilation of its submit path, which the many-turn phase then lacked.
        var warmUp = Math.Max(20, jobs / 2);
        await phases.RunAsync("warm-1", warmUp, 1);
        await phases.RunAsync("warm-k", warmUp, turns);
        var settling = await SettleAsync(environment, phases, turns, concurrency);
        provider.TakeTimings();

        var many = await phases.RunAsync("many", jobs, turns);
        var (gaps, modelMs) = provider.TakeTimings();
        var one = await phases.RunAsync("one", jobs, 1);
        var (_, oneModelMs) = provider.TakeTimings();
        Array.Sort(gaps);
        Array.Sort(modelMs);
        return new JsonObject
        {
            ["scenario"] = "agent",
            ["fsync"] = !environment.FsyncOff,
            ["jobs"] = jobs,
            ["turns"] = turns,
            ["concurrency"] = concurrency,
            ["warmup_jobs"] = warmUp,
            ["settling"] = settling,
            ["one_turn"] = one.Figures(),
            ["many_turns"] = many.Figures(),
            // What one more turn (one model call and one tool call) costs the services, per group and in all.
            ["cpu_ms_per_added_turn"] = PerAddedTurn(one.CpuMsPerJob(), many.CpuMsPerJob(), turns),
            ["pg_transactions_per_added_turn"] = Math.Round((many.PgTransactions - one.PgTransactions) / (turns - 1), 2),
            // The service's time between an answer written and the next request received (a tool call and a turn's writes).
            ["tool_call_gap_ms"] = new JsonObject
            {
                ["count"] = gaps.Length,
                ["p50"] = Math.Round(Percentiles.Of(gaps, 50), 2),
                ["p95"] = Math.Round(Percentiles.Of(gaps, 95), 2),
                ["p99"] = Math.Round(Percentiles.Of(gaps, 99), 2),
            },
            // The same from the jobs' own timestamps: (p50 job time of many turns − of one) / turns added; the model's
            // answers (the fake's, p50 below) are inside it.
            ["added_ms_per_turn"] = Math.Round((many.JobMsP50 - one.JobMsP50) / (turns - 1), 2),
            ["model_ms_p50"] = Math.Round(Percentiles.Of(modelMs, 50), 3),
            ["model_ms_p50_one_turn"] = Math.Round(Percentiles.Of([.. oneModelMs.Order()], 50), 3),
            ["load_average"] = $"{loadBefore} -> {LoadAverage()}",
        };
    }

    /// <summary>
    /// Runs more warm-up jobs of both kinds until the services' tier-1 recompilation has stopped: at most 2 % of a
    /// core in <see cref="TieredCompilationWatch"/> over a window of 2 s or more. The window then measures the service as
    /// it runs once warm, not the tail of its JIT (cold start is its own row); after 90 s it gives up and says so.
    /// </summary>
    private static async Task<JsonObject> SettleAsync(BenchEnvironment environment, Phases phases, int turns, int concurrency)
    {
        var watch = new TieredCompilationWatch(environment);
        var started = Stopwatch.GetTimestamp();
        var (windowTicks, windowStarted) = (watch.Ticks(), started);
        var (rounds, quiet) = (0, false);
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(90))
        {
            await phases.RunAsync($"settle{rounds}-many", concurrency * 4, turns);
            await phases.RunAsync($"settle{rounds}-one", concurrency * 4, 1);
            rounds++;
            var seconds = Stopwatch.GetElapsedTime(windowStarted).TotalSeconds;
            if (seconds < 2)
            {
                continue;
            }

            if (watch.Ticks() - windowTicks <= 2 * seconds)
            {
                quiet = true;
                break;
            }

            (windowTicks, windowStarted) = (watch.Ticks(), Stopwatch.GetTimestamp());
        }

        return new JsonObject
        {
            ["rounds"] = rounds,
            ["jobs"] = rounds * concurrency * 8,
            ["seconds"] = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 1),
            ["jit_quiet"] = quiet,
        };
    }

    private static JsonObject PerAddedTurn(Dictionary<string, double> one, Dictionary<string, double> many, int turns)
    {
        var split = new JsonObject();
        foreach (var group in ServiceGroups)
        {
            split[group] = Math.Round((many[group] - one[group]) / (turns - 1), 3);
        }

        split["service"] = Math.Round(ServiceGroups.Sum(g => many[g] - one[g]) / (turns - 1), 3);
        return split;
    }

    private static readonly string[] ServiceGroups = ["api", "workers", "postgres", "redis"];

    /// <summary>The 1, 5 and 15-minute load averages (the machine is shared: figures are read beside them).</summary>
    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    /// <summary>Runs one phase's jobs as closed loops and reads what they cost.</summary>
    private sealed class Phases(BenchEnvironment environment, FakeAgentProvider provider, Submitter submitter, int concurrency)
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource> _finals = new(StringComparer.Ordinal);

        public async Task<PhaseResult> RunAsync(string phase, int jobs, int turns)
        {
            provider.FinalAnswered = run =>
            {
                if (_finals.TryRemove(run, out var done))
                {
                    done.TrySetResult();
                }
            };
            await using var roundTrips = await RoundTripMeter.StartAsync(environment);
            var meter = new CpuMeter(environment);
            var cpuBefore = meter.Read();
            var started = Stopwatch.GetTimestamp();
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < jobs)
                {
                    await RunOneAsync($"{phase}-{i.ToString(CultureInfo.InvariantCulture)}", turns);
                }
            }));
            await WaitForPhaseAsync(phase, jobs);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var cpu = CpuMeter.Split(cpuBefore, meter.Read(), jobs);
            var trips = await roundTrips.PerJobAsync(jobs);
            var jobMsP50 = await environment.ScalarAsync<double>($"""
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM completed_at - created_at) * 1000)::float8
                  FROM llm_workflow_jobs WHERE input_data->>'run' LIKE '{phase}-%'
                """);
            return new PhaseResult(turns, seconds, cpu, trips, jobMsP50);
        }

        private async Task RunOneAsync(string run, int turns)
        {
            var final = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _finals[run] = final;
            if (await submitter.SubmitAsync("bench_agent", new { run, turns }) is null)
            {
                throw new InvalidOperationException($"Submitting bench_agent run {run} failed.");
            }

            try
            {
                await final.Task.WaitAsync(TimeSpan.FromMinutes(1));
            }
            catch (TimeoutException)
            {
                var status = await environment.ScalarAsync<string>(
                    $"SELECT status || ' ' || COALESCE(error_message, '') FROM llm_workflow_jobs WHERE input_data->>'run' = '{run}'");
                throw new TimeoutException($"bench_agent run {run} got no final answer within a minute (job: {status}).");
            }
        }

        private async Task WaitForPhaseAsync(string phase, int jobs)
        {
            var started = Stopwatch.GetTimestamp();
            while (await environment.CountAsync($"SELECT count(*) FROM llm_workflow_jobs WHERE status = 'completed' AND input_data->>'run' LIKE '{phase}-%'") < jobs)
            {
                if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(1))
                {
                    throw new TimeoutException($"The {phase} jobs did not all complete within a minute of their last final answer.");
                }

                await Task.Delay(5);
            }
        }
    }

    private sealed record PhaseResult(int Turns, double Seconds, JsonObject Cpu, JsonObject RoundTrips, double JobMsP50)
    {
        public double PgTransactions => (double)RoundTrips["pg_transactions"]!;

        public Dictionary<string, double> CpuMsPerJob() => ServiceGroups.ToDictionary(g => g, g => (double)Cpu[g]!);

        public JsonObject Figures() => new()
        {
            ["turns"] = Turns,
            ["seconds"] = Math.Round(Seconds, 2),
            ["job_ms_p50"] = Math.Round(JobMsP50, 2),
            ["cpu_ms_per_job"] = Cpu.DeepClone(),
            ["round_trips_per_job"] = RoundTrips.DeepClone(),
        };
    }
}
