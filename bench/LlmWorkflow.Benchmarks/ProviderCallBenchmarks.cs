using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Transforms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Benchmarks;

/// <summary>
/// What a worker spends on one <c>llm</c> step against an OpenAI-compatible provider, on the real path: the engine,
/// the gateway (Polly, telemetry, pricing), the OpenAI SDK and the provider's HTTP handlers. Two transports: an answer
/// made in memory (the client's own cost, nothing else in the process) and a Kestrel fake on loopback (adds sockets and
/// the fake's own work, which the benchmark process pays too).
/// </summary>
[MemoryDiagnoser]
public class ProviderCallBenchmarks
{
    private const string Completion = """
        {"id":"chatcmpl-bench","object":"chat.completion","created":1760000000,"model":"bench-model",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Hello Ada, greetings to Oslo."},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":21,"completion_tokens":8,"total_tokens":29}}
        """;

    private static readonly byte[] CompletionBytes = Encoding.UTF8.GetBytes(Completion);
    private static readonly WorkflowRunOptions Options = new() { RunId = "bench" };

    private readonly JsonObject _input = new() { ["name"] = "Ada", ["city"] = "Oslo" };
    private readonly List<IDisposable> _owned = [];
    private WebApplication? _fake;
    private WorkflowRunner _inMemory = null!;
    private WorkflowRunner _loopback = null!;
    private WorkflowDefinition _workflow = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _fake = builder.Build();
        _fake.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            // Read the request as a provider would before it answers.
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(CompletionBytes, context.RequestAborted);
        });
        await _fake.StartAsync();
        var address = _fake.Urls.First();

        // Priced like a real model, so each call also computes its cost.
        var prices = PriceTable.Load(new PricingOptions
        {
            Models = { ["bench/bench-model"] = new ModelPriceOverride { InputPerMillion = 0.15m, OutputPerMillion = 0.60m } },
        });
        _inMemory = Runner(prices, "http://in-memory.invalid/v1", new InMemoryAnswer());
        _loopback = Runner(prices, address + "/v1", transport: null);
        _workflow = WorkflowDefinitionLoader.Parse("""
            {"name": "one_llm", "steps": [{"id": "ask", "type": "llm", "config": {
              "model": "bench/bench-model", "system": "Be brief.", "prompt": "Greet {{name}} from {{city}}.",
              "variables": {"name": "${input.name}", "city": "${input.city}"}, "max_tokens": 100}}],
             "output": {"answer": "${steps.ask.output.text}"}}
            """, "bench.json").Definition ?? throw new InvalidOperationException("The benchmark workflow does not parse.");
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _owned.ForEach(d => d.Dispose());
        if (_fake is not null)
        {
            await _fake.DisposeAsync();
        }
    }

    [Benchmark(Description = "1 llm step, OpenAI-compatible provider, answer in memory")]
    public Task<WorkflowRunResult> InMemory() => _inMemory.RunAsync(_workflow, _input, Options, CancellationToken.None);

    [Benchmark(Description = "1 llm step, OpenAI-compatible provider, Kestrel fake on loopback")]
    public Task<WorkflowRunResult> Loopback() => _loopback.RunAsync(_workflow, _input, Options, CancellationToken.None);

    private WorkflowRunner Runner(PriceTable prices, string baseUrl, HttpMessageHandler? transport)
    {
        var options = new LlmOptions();
        options.Providers["bench"] = new LlmProviderOptions { Kind = "openai-compatible", BaseUrl = baseUrl, ApiKey = "bench" };
        var registry = new LlmProviderRegistry(Microsoft.Extensions.Options.Options.Create(options), _ => null, transport);
        var memory = new MemoryCache(new MemoryCacheOptions());
        _owned.Add(registry);
        _owned.Add(memory);
        var gateway = new LlmGateway(registry, prices, new MemoryResponseCache(memory), NullLogger<LlmGateway>.Instance);
        return new WorkflowRunner(TransformRegistry.CreateDefault(), gateway, prices: prices);
    }

    /// <summary>Answers every request with the same completion, at once.</summary>
    private sealed class InMemoryAnswer : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                RequestMessage = request,
                Content = new ByteArrayContent(CompletionBytes) { Headers = { ContentType = new("application/json") } },
            });
    }
}
