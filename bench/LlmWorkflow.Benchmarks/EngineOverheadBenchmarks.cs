using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Benchmarks;

/// <summary>
/// Engine overhead per run: a 10-step transform-only workflow (divide by 10 for the per-step figure; target
/// under 50 µs per step) and a single llm step against an instant gateway (target under 200 µs per call).
/// </summary>
[MemoryDiagnoser]
public class EngineOverheadBenchmarks
{
    private static readonly WorkflowRunOptions Options = new() { RunId = "bench" };

    private readonly JsonObject _input = new() { ["name"] = "Ada", ["city"] = "Oslo" };
    private WorkflowRunner _runner = null!;
    private WorkflowDefinition _tenTransforms = null!;
    private WorkflowDefinition _oneLlmStep = null!;

    [GlobalSetup]
    public void Setup()
    {
        _runner = new WorkflowRunner(TransformRegistry.CreateDefault(), new InstantLlmGateway());
        var steps = Enumerable.Range(0, 10).Select(i => i == 0
            ? """{"id": "s0", "type": "transform", "config": {"operation": "template", "template": "Hello, ${input.name} from ${input.city}!"}}"""
            : $$"""{"id": "s{{i}}", "type": "transform", "config": {"operation": "template", "template": "${steps.s{{i - 1}}.output} #{{i}}"} }""");
        _tenTransforms = Load($$"""{"name": "ten", "steps": [{{string.Join(",", steps)}}], "output": {"text": "${steps.s9.output}"} }""");
        _oneLlmStep = Load("""
            {"name": "one_llm", "steps": [{"id": "ask", "type": "llm", "display_name": "Ask", "config": {
              "model": "mock/instant", "system": "Be brief.", "prompt": "Greet {{name}} from {{city}}.",
              "variables": {"name": "${input.name}", "city": "${input.city}"}, "max_tokens": 100}}],
             "output": {"answer": "${steps.ask.output.text}"}}
            """);
    }

    [Benchmark(Description = "10 transform steps")]
    public Task<WorkflowRunResult> TenTransformSteps() => _runner.RunAsync(_tenTransforms, _input, Options, CancellationToken.None);

    [Benchmark(Description = "1 llm step (instant gateway)")]
    public Task<WorkflowRunResult> OneLlmStep() => _runner.RunAsync(_oneLlmStep, _input, Options, CancellationToken.None);

    private static WorkflowDefinition Load(string json)
    {
        var result = WorkflowDefinitionLoader.Parse(json, "bench.json");
        return result.Succeeded ? result.Definition! : throw new InvalidOperationException(string.Join("; ", result.Problems));
    }
}
