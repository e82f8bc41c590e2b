using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;
using Npgsql;

namespace LlmWorkflow.Tests.Security;

/// <summary>
/// A poison LLM answer (U+0000, a lone surrogate, bytes that are not UTF-8, 10 MB) through the real API, Worker,
/// Postgres and Redis against the fake OpenAI server: it is cleaned before storage (or refused over the size limit),
/// stored once, paid once (the fake counts calls, Postgres counts usage rows) and the step record says what happened.
/// </summary>
[IntegrationTest]
public sealed class PoisonAnswerTests(TestServers servers)
{
    [Fact]
    public async Task AnAnswerWithNulIsStoredOncePaidOnceAndTheStepSaysItWasCleaned()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await LlmPipeline.StartAsync(servers, nameof(AnAnswerWithNulIsStoredOncePaidOnceAndTheStepSaysItWasCleaned),
            llm => llm.Options = llm.Options with { Chunks = ["poison\u0000", "ed ans\u0000wer"] }, ct);
        var statusUrl = await pipeline.SubmitAsync("one_llm_step", new { question = "nul" }, ct);
        var status = await JobPolling.WaitForTerminalAsync(pipeline.Client, statusUrl, TimeSpan.FromSeconds(60), ct);

        Assert.Equal("completed", (string?)status["status"]);
        Assert.Equal("poisoned answer", (string?)status["result"]!["output"]!["answer"]);
        var step = status["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == "answer")!;
        Assert.Contains("U+0000", (string?)step["notes"], StringComparison.Ordinal);
        Assert.Equal(1, pipeline.Llm.CallCount);
        Assert.Equal(1, await UsageRowsAsync(pipeline, Guid.Parse((string)status["job_id"]!)));
    }

    [Fact]
    public async Task AnAnswerWithALoneSurrogateIsStoredOncePaidOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var body = """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"half \ud800 a pair"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}""";
        await using var pipeline = await LlmPipeline.StartAsync(servers, nameof(AnAnswerWithALoneSurrogateIsStoredOncePaidOnce),
            llm => llm.Enqueue(new FakeResponse(200, body)), ct);
        var statusUrl = await pipeline.SubmitAsync("one_llm_step", new { question = "surrogate" }, ct);
        var status = await JobPolling.WaitForTerminalAsync(pipeline.Client, statusUrl, TimeSpan.FromSeconds(60), ct);

        // Stored and finished either way (completed with U+FFFD, or failed naming the answer), never re-bought.
        Assert.True((string?)status["status"] is "completed" or "failed", status.ToJsonString());
        if ((string?)status["status"] == "completed")
        {
            Assert.Equal("half \uFFFD a pair", (string?)status["result"]!["output"]!["answer"]);
        }

        Assert.Equal(1, pipeline.Llm.CallCount);
    }

    [Fact]
    public async Task AnAnswerWithInvalidUtf8IsStoredOncePaidOnceAndTheStepSaysSo()
    {
        var ct = TestContext.Current.CancellationToken;
        byte[] body =
        [
            .. System.Text.Encoding.UTF8.GetBytes("""{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"bad """),
            0xFF, 0xFE,
            .. System.Text.Encoding.UTF8.GetBytes(""" bytes"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}"""),
        ];
        await using var pipeline = await LlmPipeline.StartAsync(servers, nameof(AnAnswerWithInvalidUtf8IsStoredOncePaidOnceAndTheStepSaysSo),
            llm => llm.Enqueue(new FakeResponse(200) { BodyBytes = body }), ct);
        var statusUrl = await pipeline.SubmitAsync("one_llm_step", new { question = "utf8" }, ct);
        var status = await JobPolling.WaitForTerminalAsync(pipeline.Client, statusUrl, TimeSpan.FromSeconds(60), ct);

        Assert.True((string?)status["status"] == "completed", status.ToJsonString());
        Assert.Equal("bad \uFFFD\uFFFD bytes", (string?)status["result"]!["output"]!["answer"]);
        var step = status["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == "answer")!;
        Assert.Contains("2 byte sequence(s) that are not valid UTF-8", (string?)step["notes"], StringComparison.Ordinal);
        Assert.Equal(1, pipeline.Llm.CallCount);
        Assert.Equal(1, await UsageRowsAsync(pipeline, Guid.Parse((string)status["job_id"]!)));
    }

    [Fact]
    public async Task ATenMegabyteAnswerIsStoredOncePaidOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var text = new string('x', TenMegabytes);
        // The production lease: writing 10 MB twice (checkpoint, result) on a loaded machine can outlast the pipeline
        // tests' 2-second lease, and a reclaimed run would call the provider again.
        await using var pipeline = await LlmPipeline.StartAsync(servers, nameof(ATenMegabyteAnswerIsStoredOncePaidOnce),
            llm => llm.Enqueue(new FakeResponse(200, Completion(text))), ct, new Dictionary<string, string?> { ["Worker:LeaseDuration"] = "00:00:30" });
        var statusUrl = await pipeline.SubmitAsync("one_llm_step", new { question = "big" }, ct);
        var status = await JobPolling.WaitForTerminalAsync(pipeline.Client, statusUrl, TimeSpan.FromSeconds(120), ct);

        Assert.True((string?)status["status"] == "completed", (string?)status["error_message"]);
        Assert.Equal(text, (string?)status["result"]!["output"]!["answer"]);
        Assert.Equal(1, (int)status["attempt"]!);
        Assert.Equal(1, pipeline.Llm.CallCount);
        Assert.Equal(1, await UsageRowsAsync(pipeline, Guid.Parse((string)status["job_id"]!)));
    }

    [Fact]
    public async Task ATenMegabyteAnswerOverTheLimitIsRefusedOnceAndTheErrorNamesTheAnswerAndTheLimit()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await LlmPipeline.StartAsync(servers, nameof(ATenMegabyteAnswerOverTheLimitIsRefusedOnceAndTheErrorNamesTheAnswerAndTheLimit),
            llm => llm.Enqueue(new FakeResponse(200, Completion(new string('x', TenMegabytes)))), ct,
            new Dictionary<string, string?> { ["Llm:MaxAnswerBytes"] = "1048576" });
        var statusUrl = await pipeline.SubmitAsync("one_llm_step", new { question = "too big" }, ct);
        var status = await JobPolling.WaitForTerminalAsync(pipeline.Client, statusUrl, TimeSpan.FromSeconds(60), ct);

        Assert.Equal("failed", (string?)status["status"]);
        var message = (string?)status["error_message"];
        Assert.Contains("answer of openai/gpt-4o-mini was refused", message, StringComparison.Ordinal);
        Assert.Contains("1,048,576-byte limit (Llm:MaxAnswerBytes)", message, StringComparison.Ordinal);
        Assert.Contains("answer_too_large", status.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(1, (int)status["attempt"]!);
        Assert.Equal(1, pipeline.Llm.CallCount);
        // Paid for, so recorded: one usage row, estimated (at least the bytes read) and marked so.
        var usage = await UsageAsync(pipeline, Guid.Parse((string)status["job_id"]!));
        Assert.Equal(1, usage.Rows);
        Assert.True(usage.OutputTokens >= 1_048_576 / 4, $"{usage.OutputTokens} output tokens");
        Assert.True(usage.Estimated);
    }

    private const int TenMegabytes = 10 * 1024 * 1024;

    private static string Completion(string content) => new JsonObject
    {
        ["id"] = "c",
        ["object"] = "chat.completion",
        ["created"] = 1,
        ["model"] = "gpt-4o-mini",
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content },
            ["finish_reason"] = "stop",
        }),
        ["usage"] = new JsonObject { ["prompt_tokens"] = 5, ["completion_tokens"] = 2_621_440, ["total_tokens"] = 2_621_445 },
    }.ToJsonString();

    [Fact]
    public void CleaningRemovesNulAndReplacesLoneSurrogatesInKeysAndValuesAndLeavesCleanNodesAlone()
    {
        var clean = JsonNode.Parse("""{"a": ["b", {"c": 1}], "emoji": "\ud83d\ude00"}""");
        Assert.Same(clean, StorableJson.Clean(clean, out var none));
        Assert.Equal(0, none);

        var poison = new JsonObject { ["k\u0000ey"] = new JsonArray("x\u0000y", "\ud800", 3), ["n"] = null };
        var cleaned = StorableJson.Clean(poison, out var changed);
        Assert.Equal(["key", "n"], cleaned!.AsObject().Select(p => p.Key));
        Assert.Equal(["xy", "\uFFFD"], cleaned["key"]!.AsArray().Take(2).Select(n => (string?)n));
        Assert.Equal(3, (int)cleaned["key"]![2]!);
        Assert.Equal(3, changed);
    }

    private static async Task<(long Rows, long OutputTokens, bool Estimated)> UsageAsync(LlmPipeline pipeline, Guid jobId)
    {
        var connectionString = pipeline.Api.Services.GetService(typeof(NpgsqlDataSource)) is NpgsqlDataSource source ? source.ConnectionString : throw new InvalidOperationException();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*), COALESCE(sum(output_tokens), 0), COALESCE(bool_and((metadata ->> 'usage_estimated')::boolean), false) FROM llm_provider_usage WHERE job_id = @id",
            connection);
        command.Parameters.AddWithValue("id", jobId);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetBoolean(2));
    }

    private static async Task<long> UsageRowsAsync(LlmPipeline pipeline, Guid jobId)
    {
        var connectionString = pipeline.Api.Services.GetService(typeof(NpgsqlDataSource)) is NpgsqlDataSource source ? source.ConnectionString : throw new InvalidOperationException();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM llm_provider_usage WHERE job_id = @id", connection);
        command.Parameters.AddWithValue("id", jobId);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
