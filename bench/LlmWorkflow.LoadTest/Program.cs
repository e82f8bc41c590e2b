using System.Globalization;
using LlmWorkflow.LoadTest;

// Usage (from the repository root, Release build):
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- submit [rate=500] [seconds=20] [workers=0: draining as it arrives]
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- throughput [jobs=20000] [workers=2]
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- io [jobs=500] [latency_ms=1000] [https=0|1]
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- e2e [jobs=5000] [workers=2] [concurrency=32] [llm_latency_ms: one LLM call per job]
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- burst [requests=2000] [concurrency=32]  (after LLMWF_BENCH_WARMUP_REQUESTS=100)
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- coldstart  (a fresh worker's first queued job)
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- burst-empty-api [requests=2000] [concurrency=32]  (LLMWF_BENCH_PUBLISHED: bench/EmptyApi published)
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- events [jobs=200] [concurrency=1] [llm_latency_ms: one LLM call per job]
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- recovery [jobs=200] [window_seconds=30]
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- fairness [backlog=2000] [cap=0: none] [small_jobs=20] [interval_ms=500] [llm_latency_ms=200]
//   dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- agent [jobs=100] [turns=21] [concurrency=1]  (the agent step's cost per turn)
//   LLMWF_BENCH_PG_DIR=/var/tmp/llmwf-scale dotnet run -c Release --project bench/LlmWorkflow.LoadTest -- scale [jobs=10000000] [rounds=3] [retention=1]
var scenario = args.FirstOrDefault() ?? "";
int Arg(int index, int fallback) => args.Length > index ? int.Parse(args[index], CultureInfo.InvariantCulture) : fallback;
// LLMWF_BENCH_WORKFLOWS: another workflows folder (bench/run.sh gives an earlier build only the definitions it can load).
var workflowsRoot = Path.GetFullPath(Environment.GetEnvironmentVariable("LLMWF_BENCH_WORKFLOWS") is { Length: > 0 } folder
    ? folder : Path.Combine("bench", "workflows"));
if (!Directory.Exists(workflowsRoot))
{
    Console.Error.WriteLine("Run from the repository root (bench/workflows not found).");
    return 2;
}

await using var environment = await BenchEnvironment.StartAsync(workflowsRoot);
var result = scenario switch
{
    "submit" => await Scenarios.SubmitLatencyAsync(environment, Arg(1, 500), Arg(2, 20), Arg(3, 0)),
    "throughput" => await Scenarios.ThroughputAsync(environment, Arg(1, 20_000), Arg(2, 2)),
    "io" => await Scenarios.IoConcurrencyAsync(environment, Arg(1, 500), TimeSpan.FromMilliseconds(Arg(2, 1000)), https: Arg(3, 0) == 1, waves: Arg(4, 1)),
    "e2e" => await Scenarios.EndToEndAsync(environment, Arg(1, 5_000), Arg(2, 2), Arg(3, 32), args.Length > 4 ? Arg(4, 0) : null),
    "coldstart" => await Scenarios.ColdStartAsync(environment),
    "burst" => await Scenarios.BurstAsync(environment, Arg(1, 2_000), Arg(2, 32)),
    "burst-empty-api" => await Scenarios.BurstAsync(environment, Arg(1, 2_000), Arg(2, 32), emptyApi: true),
    "events" => await Scenarios.EventsAsync(environment, Arg(1, 200), Arg(2, 1), args.Length > 3 ? Arg(3, 0) : null),
    "recovery" => await Scenarios.RecoveryAsync(environment, Arg(1, 200), Arg(2, 30)),
    "fairness" => await FairnessScenario.RunAsync(environment, Arg(1, 2_000), Arg(2, 0), Arg(3, 20), Arg(4, 500), Arg(5, 200)),
    "agent" => await AgentScenario.RunAsync(environment, Arg(1, 100), Arg(2, 21), Arg(3, 1)),
    "scale" => await ScaleScenario.RunAsync(environment, args.Length > 1 ? long.Parse(args[1], CultureInfo.InvariantCulture) : 10_000_000, Arg(2, 3), Arg(3, 1) != 0),
    _ => null,
};
if (result is null)
{
    Console.Error.WriteLine("Usage: LlmWorkflow.LoadTest submit [rate] [seconds] [workers] | throughput [jobs] [workers] | io [jobs] [latency_ms] [https 0|1] | e2e [jobs] [workers] [concurrency] [llm_latency_ms] | burst [requests] [concurrency] | burst-empty-api [requests] [concurrency] | events [jobs] [concurrency] [llm_latency_ms] | recovery [jobs] [window_seconds] | fairness [backlog] [cap] [small_jobs] [interval_ms] [llm_latency_ms] | agent [jobs] [turns] [concurrency] | scale [jobs] [rounds] [retention 0|1]");
    return 2;
}

result["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}";
// LLMWF_BENCH_BUILD names the build measured (bench/run.sh sets "before" for the base commit's build).
result["build"] = Environment.GetEnvironmentVariable("LLMWF_BENCH_BUILD") is { Length: > 0 } build ? build : null;
Console.WriteLine(result.ToJsonString());
return 0;
