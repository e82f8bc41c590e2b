using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Transforms;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Runs a one-step <c>llm</c> workflow through the real engine, gateway (Polly), OpenAI SDK and provider handlers against
/// an OpenAI-compatible answer made in memory, so that a worker compiles that path before its first real calls instead
/// of while hundreds of them wait on it (bench/README.md, "S3: the worker rehearses an LLM call"). Nothing leaves the
/// process, and inside <see cref="Telemetry.BeginRehearsal"/> the run records no metric. Spans are the caller's to
/// suppress: the worker's warm-up runs with OpenTelemetry's instrumentation suppressed.
/// </summary>
public static class LlmRehearsal
{
    private const string Provider = "rehearsal";

    private const string Workflow = """
        {
          "name": "rehearsal",
          "version": "1.0.0",
          "steps": [
            {
              "id": "answer",
              "type": "llm",
              "config": { "model": "rehearsal/model", "prompt": "Answer briefly: {{question}}", "variables": { "question": "${input.question}" }, "max_tokens": 8 }
            }
          ],
          "output": { "answer": "${steps.answer.output.text}" }
        }
        """;

    /// <summary>The chat completion the rehearsal's call is answered with.</summary>
    private const string Completion = """
        {"id":"rehearsal","object":"chat.completion","created":0,"model":"model",
         "choices":[{"index":0,"message":{"role":"assistant","content":"ready"},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}}
        """;

    /// <summary>Runs the rehearsal; returns the run's result (completed, with the made-up answer, when the path works).</summary>
    public static async Task<WorkflowRunResult> RunAsync(IPriceTable prices, CancellationToken cancellationToken)
    {
        await using var answer = LoopbackAnswer.Start("application/json", Completion, cancellationToken);
        var options = new LlmOptions();
        options.Providers[Provider] = new LlmProviderOptions
        {
            Kind = "openai-compatible",
            BaseUrl = new Uri(answer.BaseUrl, "v1").ToString(),
            ApiKey = Provider,
        };
        // The provider's own transport (LlmProviderRegistry.CreateTransport), not a stand-in: its pool and socket run too.
        // Its HTTP client metrics go to a meter nobody listens to: the rehearsal is no provider call in
        // http.client.request.duration either.
        using var meters = new UnobservedMeters();
        var transport = LlmProviderRegistry.CreateTransport();
        transport.MeterFactory = meters;
        using var registry = new LlmProviderRegistry(Options.Create(options), _ => null, transport);
        using var memory = new MemoryCache(new MemoryCacheOptions());
        var gateway = new LlmGateway(registry, prices, new MemoryResponseCache(memory), NullLogger<LlmGateway>.Instance);
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), gateway, prices: prices);
        var workflow = WorkflowDefinitionLoader.Parse(Workflow, "rehearsal").Definition
            ?? throw new InvalidOperationException("The rehearsal workflow does not parse.");
        return await runner.RunAsync(workflow, new JsonObject { ["question"] = "ready?" },
            new WorkflowRunOptions { RunId = Guid.CreateVersion7().ToString() }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Makes meters under a name no telemetry pipeline subscribes to, and disposes them with itself.</summary>
    private sealed class UnobservedMeters : IMeterFactory
    {
        private readonly List<Meter> _made = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter("llmworkflow.rehearsal.unobserved", options.Version);
            lock (_made)
            {
                _made.Add(meter);
            }

            return meter;
        }

        public void Dispose()
        {
            lock (_made)
            {
                _made.ForEach(meter => meter.Dispose());
                _made.Clear();
            }
        }
    }
}
