using System.Globalization;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Storage.Agents;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Llm;
using Npgsql;
using static LlmWorkflow.Tests.Agents.AgentTestKit;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// The agent loop on its PostgreSQL store: a run stopped after a tool or during one resumes on a new host (a new
/// gateway, runner and store over the same database) without paying a finished turn or running a finished tool again,
/// and a 100-turn loop stores close to its distinct message bytes.
/// </summary>
[IntegrationTest]
public sealed class AgentDurabilityTests(TestServers servers) : IAsyncLifetime
{
    private string _database = null!;
    private NpgsqlDataSource _dataSource = null!;

    public async ValueTask InitializeAsync()
    {
        _database = await servers.CreateMigratedDatabaseAsync(nameof(AgentDurabilityTests));
        _dataSource = NpgsqlDataSource.Create(_database);
    }

    public async ValueTask DisposeAsync() => await _dataSource.DisposeAsync();

    /// <summary>A new host: its own store over the shared database, and the fake tool server reachable on loopback.</summary>
    private AgentServices Host() => new(new PostgresAgentStore(_dataSource), new HttpClient());

    private async Task<string> NewJobAsync()
    {
        var id = Guid.NewGuid();
        await TestSql.ExecuteAsync(_database, """
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, tenant_id)
            VALUES (@id, @id::text, 'test', 'processing', '{}', 'main-app')
            """, TestContext.Current.CancellationToken, ("id", id));
        return id.ToString();
    }

    [Fact]
    public async Task ARunStoppedAfterAToolResumesOnANewHostWithoutPayingATurnOrRunningAToolAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        await using var tools = await FakeToolServer.StartAsync();
        provider.Enqueue(ToolCallWire.OpenAiToolCall("call_1", "lookup_order", new JsonObject { ["order_id"] = "A-17" }));
        provider.Enqueue(ToolCallWire.OpenAiText("Order A-17 was delivered.", promptTokens: 180, completionTokens: 9));
        var job = await NewJobAsync();
        var workflow = Workflow("fakeai/gpt-4o-mini", tools.BaseUrl);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var stopAfterTool = new RecordingSink(e => e is AgentToolProgress { Status: AgentToolEntry.Finished }, stop);

        var first = await Runner(OpenAiGateway(provider.ApiUrl), Host()).RunAsync(workflow, Question(), Options(job, stopAfterTool), stop.Token);
        var second = await Runner(OpenAiGateway(provider.ApiUrl), Host()).RunAsync(workflow, Question(), Options(job), ct);

        Assert.Equal(WorkflowRunStatus.Cancelled, first.Status);
        Assert.Equal(WorkflowRunStatus.Completed, second.Status);
        Assert.Equal("Order A-17 was delivered.", (string?)second.Output!["answer"]);
        Assert.Equal(1, tools.CallCount);
        Assert.Equal(2, provider.CallCount); // turn 0 read back, only turn 1 sent
        Assert.True((bool)second.Output["turn_log"]![0]!["restored"]!);
        // The resumed step's usage still counts every turn once: 100 + 180 in, 20 + 9 out.
        Assert.Equal((280, 29), (second.InputTokens, second.OutputTokens));
        Assert.Equal(("finished", 1L), await LedgerAsync(job, "call_1"));
    }

    [Fact]
    public async Task ARunStoppedDuringAToolCallRunsItAgainWithTheSameIdempotencyKey()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        await using var tools = await FakeToolServer.StartAsync();
        provider.Enqueue(ToolCallWire.OpenAiToolCall("call_1", "refund", new JsonObject { ["order_id"] = "A-17", ["amount_usd"] = 5 }));
        provider.Enqueue(ToolCallWire.OpenAiText("Refunded."));
        var job = await NewJobAsync();
        var workflow = Workflow("fakeai/gpt-4o-mini", tools.BaseUrl);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        tools.Hold = new TaskCompletionSource();

        var running = Runner(OpenAiGateway(provider.ApiUrl), Host()).RunAsync(workflow, Question(), Options(job), stop.Token);
        await WaitForAsync(() => tools.CallCount == 1, ct); // the refund is in flight at the tool server
        await stop.CancelAsync();
        var first = await running;
        tools.Hold = null;
        var second = await Runner(OpenAiGateway(provider.ApiUrl), Host()).RunAsync(workflow, Question(), Options(job), ct);

        Assert.Equal(WorkflowRunStatus.Cancelled, first.Status);
        Assert.Equal(WorkflowRunStatus.Completed, second.Status);
        Assert.Equal(2, tools.CallCount);
        Assert.Single(tools.IdempotencyKeys.Distinct());
        Assert.Equal(AgentStepTests.Key(job, "agent", 0, "call_1"), tools.IdempotencyKeys[0]);
        Assert.Equal(2, provider.CallCount);
        Assert.Equal(("finished", 2L), await LedgerAsync(job, "call_1"));
    }

    [Fact]
    public async Task AHundredTurnLoopStoresCloseToItsDistinctMessageBytes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var tools = await FakeToolServer.StartAsync();
        const int turns = 100;
        var script = new JsonArray();
        for (var i = 0; i < turns; i++)
        {
            script.Add(new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["name"] = "read_page", ["arguments"] = new JsonObject { ["n"] = i } }) });
        }

        script.Add(new JsonObject { ["text"] = "Read them all." });
        var options = TestGateways.Options();
        options.Mock.Responses["test"] = new() { ["agent"] = new JsonObject { ["agent_turns"] = script }.ToJsonString() };
        var job = await NewJobAsync();

        var result = await Runner(TestGateways.Create(options), Host()).RunAsync(
            Workflow("mock/agent", tools.BaseUrl, """ "max_turns": 200, """), Question("Read every page."), Options(job), ct);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal(turns + 1, (int)result.Output!["turns"]!);
        var distinct = await LongAsync("SELECT sum(octet_length(content)) FROM llm_agent_messages WHERE job_id = @job", job);
        var stored = await LongAsync("""
            SELECT (SELECT sum(octet_length(m::text)) FROM llm_agent_messages m WHERE job_id = @job)
                 + (SELECT sum(octet_length(t::text)) FROM llm_agent_turns t WHERE job_id = @job)
                 + (SELECT sum(octet_length(c::text)) FROM llm_agent_tool_calls c WHERE job_id = @job)
            """, job);
        // What storing every prompt would have taken: each turn's prompt is all the messages before it.
        var everyPrompt = await LongAsync("""
            SELECT sum(sent) FROM (
              SELECT sum(sum(octet_length(m.content))) OVER (ORDER BY t.turn) AS sent
                FROM llm_agent_turns t CROSS JOIN LATERAL unnest(t.added_hashes) h
                JOIN llm_agent_messages m ON m.job_id = t.job_id AND m.hash = h
               WHERE t.job_id = @job GROUP BY t.turn) prompts
            """, job);
        var onDisk = await LongAsync("SELECT pg_total_relation_size('llm_agent_messages') + pg_total_relation_size('llm_agent_turns') + pg_total_relation_size('llm_agent_tool_calls')", job);
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"distinct message bytes {distinct:N0}; stored logical bytes {stored:N0} ({(double)stored / distinct:F3}x); every prompt stored {everyPrompt:N0} ({(double)everyPrompt / distinct:F1}x); tables on disk {onDisk:N0}"));
        Assert.True(distinct >= turns * FakeToolServer.PageChars, $"distinct {distinct}");
        Assert.True(stored <= 1.3 * distinct, $"stored {stored} bytes for {distinct} distinct");
        Assert.True(everyPrompt > 40 * distinct, $"every prompt {everyPrompt}");
    }

    private async Task<(string Status, long Attempts)> LedgerAsync(string job, string callId)
    {
        await using var command = _dataSource.CreateCommand("SELECT call_status, attempts::bigint FROM llm_agent_tool_calls WHERE job_id = $1 AND call_id = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = Guid.Parse(job) });
        command.Parameters.Add(new NpgsqlParameter { Value = callId });
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        Assert.True(await reader.ReadAsync(TestContext.Current.CancellationToken));
        return (reader.GetString(0), reader.GetInt64(1));
    }

    private async Task<long> LongAsync(string sql, string job) =>
        Convert.ToInt64(await TestSql.ScalarAsync(_database, sql, TestContext.Current.CancellationToken, ("job", Guid.Parse(job))), CultureInfo.InvariantCulture);

    private static async Task WaitForAsync(Func<bool> condition, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}
