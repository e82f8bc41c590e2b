using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// The live events' wire form, byte for byte: what the worker stores in Redis and SSE clients (the documents'
/// TypeScript, the dashboard, the CLI) parse. Field order, nulls and escaping are the contract's.
/// </summary>
[UnitTest]
public sealed class ProgressEventJsonTests
{
    private const string RunId = "0193a1b2-0000-7000-8000-000000000001";
    private static readonly DateTimeOffset At = new(2026, 11, 23, 14, 30, 0, 125, TimeSpan.Zero);
    // The head of every event, up to the timestamp's closing quote.
    private const string Head = $$"""{"job_id":"{{RunId}}","timestamp":"2026-11-23T14:30:00.125+00:00""";

    public static TheoryData<string, ProgressEvent, string> Events => new()
    {
        {
            "run_started", new RunStarted(RunId, At, "trip_briefing", 3),
            ""","workflow_name":"trip_briefing","total_steps":3}"""
        },
        {
            "step_started", new StepStarted(RunId, At, "draft", "draft[2]", "Draft", "llm", 1, 3, 33, "each"),
            ""","step_id":"draft","step_key":"draft[2]","display_name":"Draft","step_type":"llm","index":1,"total":3,"percent":33,"parent_step_id":"each"}"""
        },
        {
            "step_completed", new StepCompleted(RunId, At, Record() with { InputTokens = 12, OutputTokens = 5, CostUsd = 0.000123m, Model = "openai/gpt-4o-mini" }, 67),
            ""","step_id":"draft","step_key":"draft","display_name":"Draft","status":"completed","duration_ms":1003.25,"attempts":1,"input_tokens":12,"output_tokens":5,"cost_usd":0.000123,"model":"openai/gpt-4o-mini","percent":67,"parent_step_id":null,"error":null}"""
        },
        {
            "step_completed", new StepCompleted(RunId, At, Record() with { Status = StepStatus.Failed, Error = Error(), Notes = "gave up" }, 100),
            ""","step_id":"draft","step_key":"draft","display_name":"Draft","status":"failed","duration_ms":1003.25,"attempts":1,"input_tokens":null,"output_tokens":null,"cost_usd":null,"model":null,"percent":100,"parent_step_id":null,"error":{"type":"rate_limited","category":"EXTERNAL_ERROR","message":"Slow down","retryable":true,"retry_after":2.5,"step_id":"draft","details":{"status":429,"service":"llm_workflow","suggestions":["wait"]},"suggestions":["wait"]},"notes":"gave up"}"""
        },
        {
            "llm_delta", new LlmDelta(RunId, At, "draft", "Olá <b>\"mundo\"</b> ✓"),
            ""","step_id":"draft","text":"Ol\u00E1 \u003Cb\u003E\u0022mundo\u0022\u003C/b\u003E \u2713"}"""
        },
        {
            "llm_call_completed", new LlmCallCompleted(RunId, At, "draft", new LlmCallResult { Text = "hi", Provider = "openai", Model = "openai/gpt-4o-mini", InputTokens = 12, OutputTokens = 5, CostUsd = null, CacheHit = true }),
            ""","step_id":"draft","provider":"openai","model":"openai/gpt-4o-mini","input_tokens":12,"output_tokens":5,"cost_usd":null,"cache_hit":true}"""
        },
        {
            "run_completed", new RunCompleted(RunId, At, new JsonObject { ["ignored"] = 1 }, 0.5m, 17),
            ""","cost_usd":0.5,"total_tokens":17}"""
        },
        {
            "run_failed", new RunFailed(RunId, At, Error() with { Details = null, Suggestions = [], RetryAfterSeconds = null }, Cancelled: false),
            ""","error":{"type":"rate_limited","category":"EXTERNAL_ERROR","message":"Slow down","retryable":true,"retry_after":null,"step_id":"draft","details":{"service":"llm_workflow","suggestions":[]},"suggestions":[]},"cancelled":false}"""
        },
    };

    [Theory]
    [MemberData(nameof(Events))]
    public void EachEventIsWrittenInItsWireForm(string type, ProgressEvent progressEvent, string rest)
    {
        var expected = $$"""{"type":"{{type}}",{{Head[1..]}}"{{rest}}""";

        Assert.Equal(expected, Encoding.UTF8.GetString(ProgressEventJson.ToUtf8(progressEvent)));
        // The CLI's node form holds the same JSON.
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), ProgressEventJson.ToJson(progressEvent)));
    }

    [Fact]
    public void ABufferOutgrownByALargeEventLeavesLaterEventsWhole()
    {
        var small = new LlmDelta(RunId, At, "draft", "tiny");
        var expectedSmall = Encoding.UTF8.GetString(ProgressEventJson.ToUtf8(small));
        var large = new LlmDelta(RunId, At, "draft", new string('x', 100_000));

        var first = ProgressEventJson.ToUtf8(large);
        var afterLarge = ProgressEventJson.ToUtf8(small);
        var again = ProgressEventJson.ToUtf8(small);

        Assert.Equal(100_000, JsonNode.Parse(first)!["text"]!.GetValue<string>().Length);
        Assert.Equal(expectedSmall, Encoding.UTF8.GetString(afterLarge));
        Assert.Equal(expectedSmall, Encoding.UTF8.GetString(again));
        Assert.NotSame(afterLarge, again);
    }

    [Fact]
    public void EventsWrittenOnManyThreadsAtOnceStayTheirOwn()
    {
        var texts = Enumerable.Range(0, 2_000).Select(i => new string((char)('a' + (i % 26)), 1 + (i * 37 % 3_000))).ToArray();

        var written = new byte[texts.Length][];
        Parallel.For(0, texts.Length, i => written[i] = ProgressEventJson.ToUtf8(new LlmDelta(RunId, At, $"s{i}", texts[i])));

        for (var i = 0; i < texts.Length; i++)
        {
            var json = JsonNode.Parse(written[i])!;
            Assert.Equal((texts[i], $"s{i}"), (json["text"]!.GetValue<string>(), json["step_id"]!.GetValue<string>()));
        }
    }

    private static StepRecord Record() => new()
    {
        StepKey = "draft",
        StepId = "draft",
        DisplayName = "Draft",
        Type = "llm",
        Status = StepStatus.Completed,
        Attempts = 1,
        DurationMs = 1003.25,
    };

    private static WorkflowError Error() => new()
    {
        Type = "rate_limited",
        Category = ErrorCategory.ExternalError,
        Message = "Slow down",
        Retryable = true,
        RetryAfterSeconds = 2.5,
        StepId = "draft",
        Details = new JsonObject { ["status"] = 429 },
        Suggestions = ["wait"],
    };
}
