using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using OpenTelemetry.Proto.Metrics.V1;
using OpenTelemetry.Proto.Trace.V1;
using LlmWorkflow.Engine;

namespace LlmWorkflow.Tests.Telemetry;

/// <summary>
/// The API and a worker as separate processes exporting over OTLP/HTTP protobuf to a receiver that decodes with
/// protoc-generated classes: one job's trace tree (POST → job.run → steps → LLM call → HTTP), an idle minute that
/// exports no spans, no span from the processes' start-up (their warm-ups included), and the metrics with their values.
/// </summary>
[SystemTest]
public sealed class OtlpEndToEndTests(TestServers servers)
{
    private const string Workflow = "telemetry_three_steps";
    private const string WebhookSecret = "otlp-test-webhook-secret";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan IdlePeriod = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan ExportGrace = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task OneJobExportsItsTraceTreeAndMetricsAndAnIdleMinuteExportsNoSpans()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var llm = await FakeOpenAiServer.StartAsync();
        await using var hooks = await WebhookReceiver.StartAsync(WebhookSecret);
        var environment = await TestEnvironment.CreateAsync(servers, nameof(OtlpEndToEndTests));
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Workflows:Root"] = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Telemetry", "workflows"),
            ["Pricing:FilePath"] = Path.Combine(RepositoryPaths.Workflows, "pricing.json"),
            ["Llm:Providers:openai:BaseUrl"] = llm.ApiUrl.ToString(),
            ["Llm:Providers:openai:ApiKey"] = "sk-test",
            ["Llm:Retry:MaxAttempts"] = "1",
            ["Worker:ReconcileInterval"] = "00:00:01",
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.200",
            ["LLM_WEBHOOK_SECRET"] = WebhookSecret,
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
        });
        await using var api = await ApiProcess.StartAsync(new Dictionary<string, string?>(settings) { ["OTEL_SERVICE_NAME"] = "api" });
        await using var worker = await WorkerProcess.StartAsync(new Dictionary<string, string?>(settings) { ["OTEL_SERVICE_NAME"] = "worker" });
        // No trace context from this process: the POST must be the root of the job's trace.
        using var client = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = api.BaseAddress };
        client.DefaultRequestHeaders.Add("X-API-Key", TestEnvironment.CallerKey);

        var firstRequest = DateTimeOffset.UtcNow;
        using var submit = await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = Workflow, input_data = new { topic = "tracing" }, webhook_url = hooks.HookUrl }, ct);
        submit.EnsureSuccessStatusCode();
        var jobId = (string)(await submit.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;
        var job = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{jobId}", Wait, ct);
        Assert.Equal("completed", (string?)job["status"]);
        await hooks.WaitForRequestsAsync(1, Wait);

        // The trace tree of the job.
        var run = await WaitForSpanAsync(receiver, s => s.Name == $"job.run {Workflow}" && s.Attribute("llmworkflow.job_id")?.StringValue == jobId);
        // Each process exports in its own batches: wait for the API's root span as well as the worker's steps.
        await Eventually.TrueAsync(() => Task.FromResult(
                receiver.Spans.Count(s => s.TraceId == run.TraceId && s.Name.StartsWith("step ", StringComparison.Ordinal)) == 3
                && receiver.Spans.Any(s => s.TraceId == run.TraceId && s.IsRoot)),
            Wait, "three step spans and the API's root span in the job's trace");
        var trace = receiver.Spans.Where(s => s.TraceId == run.TraceId).ToList();
        var root = Assert.Single(trace, s => s.IsRoot);
        Assert.Equal(("api", "POST /api/v1/workflow", Span.Types.SpanKind.Server), (root.Service, root.Name, root.Span.Kind));
        Assert.All(trace, s => Assert.True(s.IsRoot || trace.Any(p => p.SpanId == s.ParentSpanId), $"{s} has no parent in the trace"));
        Assert.Equal(("worker", root.SpanId, Span.Types.SpanKind.Consumer), (run.Service, run.ParentSpanId, run.Span.Kind));
        Assert.Equal(Status.Types.StatusCode.Ok, run.Span.Status.Code);

        var steps = trace.Where(s => s.Scope == "LlmWorkflow" && s.ParentSpanId == run.SpanId).OrderBy(s => s.Span.StartTimeUnixNano).ToList();
        Assert.Equal(["step prepare", "step write", "step finish"], steps.Select(s => s.Name));
        Assert.All(steps, s => Assert.Equal("completed", s.Attribute("llmworkflow.step.status")?.StringValue));
        var chat = Assert.Single(trace, s => s.Scope == "LlmWorkflow" && s.Name.StartsWith("chat ", StringComparison.Ordinal));
        Assert.Equal(("chat gpt-4o-mini", steps[1].SpanId, Span.Types.SpanKind.Client), (chat.Name, chat.ParentSpanId, chat.Span.Kind));
        Assert.Equal("chat", chat.Attribute("gen_ai.operation.name")?.StringValue);
        Assert.Equal("openai", chat.Attribute("gen_ai.provider.name")?.StringValue);
        Assert.Equal("gpt-4o-mini", chat.Attribute("gen_ai.request.model")?.StringValue);
        Assert.Equal(llm.Options.PromptTokens, chat.Attribute("gen_ai.usage.input_tokens")?.IntValue);
        Assert.Equal(llm.Options.CompletionTokens, chat.Attribute("gen_ai.usage.output_tokens")?.IntValue);
        var cost = (double)job["result"]!["cost_data"]!["cost_usd"]!;
        Assert.True(cost > 0);
        Assert.Equal(cost, chat.Attribute("llmworkflow.cost_usd")!.DoubleValue, 9);
        // The one HTTP call to the provider is the chat's child. Admission runs inside the call for every real provider
        // (its limits are learned from the provider's answers): its Redis commands are children too (the Redis
        // instrumentation exports them from its profiler at its own interval, so whether they are here yet depends on
        // timing), and so is its one read of the step's output-token history (p95, kept 30 s per step); they are the
        // only other children allowed.
        var http = Assert.Single(trace, s => s.ParentSpanId == chat.SpanId && s.Scope == "System.Net.Http");
        Assert.Equal(Span.Types.SpanKind.Client, http.Span.Kind);
        var others = trace.Where(s => s.ParentSpanId == chat.SpanId && s != http).ToList();
        Assert.All(others, s => Assert.True(IsRedis(s) || s.Scope == "Npgsql", $"{s} is a child of the chat span"));
        Assert.True(others.Count(s => s.Scope == "Npgsql") <= 1, "admission read PostgreSQL more than once in one call");
        // The XADD that dispatches the job is sent by the submission batcher for many requests at once, so it belongs to
        // no single request's trace: the job's trace crosses Redis as the traceparent carried in the stream entry (the
        // worker's job.run is a child of the API's root span, checked above).
        // The worker acks a batch's entries right after claiming it, outside any job's trace (docs/JOB_LIFECYCLE.md).
        Assert.DoesNotContain(trace, s => s.Service == "worker" && IsRedis(s) && s.Name == "XACK");
        Assert.Contains(trace, s => s.Scope == "Npgsql" && s.ParentSpanId == root.SpanId);
        var ours = trace.Where(s => s.Scope == "LlmWorkflow").Select(s => s.Name).Order().ToList();
        Assert.Equal(["chat gpt-4o-mini", $"job.run {Workflow}", "step finish", "step prepare", "step write"], ours);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"Spans of one three-step job: {trace.Count} ({string.Join(", ", trace.GroupBy(s => s.Scope).Select(g => $"{g.Key} {g.Count()}"))})");

        // Metrics, as exported by each process.
        Assert.Equal(1, await WaitForSumAsync(receiver, "api", "llmworkflow.jobs.submitted", ("workflow", Workflow)));
        Assert.Equal(1, await WaitForSumAsync(receiver, "worker", "llmworkflow.jobs.finished", ("workflow", Workflow), ("status", "completed")));
        Assert.Equal(llm.Options.PromptTokens, await WaitForSumAsync(receiver, "worker", "llmworkflow.llm.tokens", ("gen_ai.request.model", "gpt-4o-mini"), ("gen_ai.token.type", "input")));
        Assert.Equal(llm.Options.CompletionTokens, await WaitForSumAsync(receiver, "worker", "llmworkflow.llm.tokens", ("gen_ai.request.model", "gpt-4o-mini"), ("gen_ai.token.type", "output")));
        Assert.Equal(cost, await WaitForSumAsync(receiver, "worker", "llmworkflow.llm.cost", ("gen_ai.request.model", "gpt-4o-mini")), 9);
        Assert.Equal(1, await WaitForSumAsync(receiver, "worker", "llmworkflow.webhooks.deliveries", ("event", "workflow.completed"), ("outcome", "delivered")));
        Assert.Equal(1ul, (await WaitForHistogramAsync(receiver, "worker", "llmworkflow.jobs.duration", ("workflow", Workflow), ("status", "completed"))).Count);
        Assert.Equal(3ul, (await WaitForHistogramAsync(receiver, "worker", "llmworkflow.steps.duration", ("workflow", Workflow), ("step_type", "transform"), ("status", "completed"))).Count
            + (await WaitForHistogramAsync(receiver, "worker", "llmworkflow.steps.duration", ("workflow", Workflow), ("step_type", "llm"), ("status", "completed"))).Count);
        await Eventually.TrueAsync(() => Task.FromResult(LatestGaugeBands(receiver, "llmworkflow.queue.depth") is { Count: 3 } bands && bands.Values.All(v => v == 0)),
            Wait, "queue depth gauges of the three bands at 0");
        Assert.Equal(["high", "low", "normal"], LatestGaugeBands(receiver, "llmworkflow.queue.oldest_age").Keys.Order());

        // An idle minute: both processes keep polling Postgres and Redis, and start no span at all. A span is judged by
        // when it started, not when it arrived: on a loaded machine the last status poll's batch can arrive seconds
        // late, and that is the poll's span, not idle work. The grace lets a span started late in the minute arrive.
        var idleStart = DateTimeOffset.UtcNow;
        await Task.Delay(IdlePeriod + ExportGrace, ct);
        var idle = receiver.Spans.Where(s => StartedAt(s) >= idleStart && StartedAt(s) < idleStart + IdlePeriod).ToList();
        TestContext.Current.TestOutputHelper?.WriteLine($"Spans started in an idle minute: {idle.Count}");
        Assert.True(idle.Count == 0, "Spans started while idle: " + string.Join("; ",
            idle.Take(20).Select(s => $"{s} at +{(StartedAt(s) - idleStart).TotalSeconds:0.000} s")));

        // Start-up (migrations) is not a request or a job: no span of it either.
        var startup = receiver.Spans.Where(s => StartedAt(s) < firstRequest).ToList();
        Assert.True(startup.Count == 0, "Spans started before the first request: " + string.Join("; ", startup.Take(20)));
        // The worker's requests went to the fake provider, the webhook receiver and (its exporter's) the OTLP receiver only.
        var calledPorts = receiver.Metrics.Where(m => m.Service == "worker" && m.Name == "http.client.request.duration")
            .SelectMany(m => m.Metric.Histogram?.DataPoints ?? []).SelectMany(p => p.Attributes)
            .Where(a => a.Key == "server.port").Select(a => a.Value.IntValue).Distinct().Order().ToList();
        Assert.Equal(new[] { (long)llm.ApiUrl.Port, new Uri(hooks.HookUrl).Port, receiver.Endpoint.Port }.Order(), calledPorts);
        // One submission was made: one request in the request metric.
        Assert.Equal(1ul, (await WaitForHistogramAsync(receiver, "api", "http.server.request.duration",
            ("http.request.method", "POST"), ("http.route", "/api/v1/workflow"))).Count);
    }

    private static bool IsRedis(ReceivedSpan span) =>
        (span.Attribute("db.system.name") ?? span.Attribute("db.system"))?.StringValue == "redis";

    private static DateTimeOffset StartedAt(ReceivedSpan span) =>
        DateTimeOffset.UnixEpoch.AddTicks((long)(span.Span.StartTimeUnixNano / 100));

    private static async Task<ReceivedSpan> WaitForSpanAsync(OtlpReceiver receiver, Func<ReceivedSpan, bool> match)
    {
        await Eventually.TrueAsync(() => Task.FromResult(receiver.Spans.Any(match)), Wait, "the span");
        return receiver.Spans.First(match);
    }

    /// <summary>The latest exported (cumulative) value of a counter's data point with these attributes.</summary>
    private static async Task<double> WaitForSumAsync(OtlpReceiver receiver, string service, string name, params (string Key, string Value)[] attributes)
    {
        NumberDataPoint? Latest() => receiver.Metrics.Where(m => m.Service == service && m.Name == name)
            .SelectMany(m => m.Metric.Sum?.DataPoints ?? [])
            .Where(p => Matches(p.Attributes, attributes))
            .OrderBy(p => p.TimeUnixNano).LastOrDefault();
        await Eventually.TrueAsync(() => Task.FromResult(Latest() is not null), Wait, $"{name} from {service}");
        var point = Latest()!;
        return point.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? point.AsInt : point.AsDouble;
    }

    private static async Task<HistogramDataPoint> WaitForHistogramAsync(OtlpReceiver receiver, string service, string name, params (string Key, string Value)[] attributes)
    {
        HistogramDataPoint? Latest() => receiver.Metrics.Where(m => m.Service == service && m.Name == name)
            .SelectMany(m => m.Metric.Histogram?.DataPoints ?? [])
            .Where(p => Matches(p.Attributes, attributes))
            .OrderBy(p => p.TimeUnixNano).LastOrDefault();
        await Eventually.TrueAsync(() => Task.FromResult(Latest() is not null), Wait, $"{name} histogram");
        return Latest()!;
    }

    /// <summary>Per priority band, the value of a gauge in its latest export.</summary>
    private static Dictionary<string, double> LatestGaugeBands(OtlpReceiver receiver, string name) =>
        receiver.Metrics.Where(m => m.Service == "worker" && m.Name == name && m.Metric.Gauge is not null)
            .OrderBy(m => m.ReceivedAt).LastOrDefault()?.Metric.Gauge.DataPoints
            .ToDictionary(p => p.Attributes.Single(a => a.Key == "priority_band").Value.StringValue,
                p => p.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? p.AsInt : p.AsDouble) ?? [];

    private static bool Matches(IEnumerable<OpenTelemetry.Proto.Common.V1.KeyValue> actual, (string Key, string Value)[] expected) =>
        expected.All(e => actual.Any(a => a.Key == e.Key && a.Value.StringValue == e.Value));
}
