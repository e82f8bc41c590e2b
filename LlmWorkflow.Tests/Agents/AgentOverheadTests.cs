using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Storage.Agents;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Llm;
using Npgsql;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// The agent step's own cost per turn, the model excluded: the offline mock answers each turn at once with a scripted
/// tool call and the tool is a transform, so what is measured is the loop — the gateway call path, the turn checkpoint,
/// the ledger's write (a call's finish, which begins the next call; the first call is begun with the turn), the events — on the PostgreSQL store. Prints CPU ms per turn and the ledger's ms per tool
/// call (docs/AGENTS.md quotes a Release run of it). It runs alone (<see cref="TimeBoundTests"/>): the CPU it reads is the
/// whole test process's, so classes running beside it would count as the loop's.
/// </summary>
[IntegrationTest]
[Collection(TimeBoundTests.Name)]
public sealed class AgentOverheadTests(TestServers servers)
{
    private const int Turns = 100;

    [Fact]
    public async Task ATurnWithAToolCallCostsTheServiceLittleCpuAndTheLedgerLittleTime()
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await servers.CreateMigratedDatabaseAsync(nameof(AgentOverheadTests));
        await using var dataSource = NpgsqlDataSource.Create(database);
        var store = new TimedStore(new PostgresAgentStore(dataSource));
        var options = TestGateways.Options();
        var script = new JsonArray();
        for (var i = 0; i < Turns; i++)
        {
            script.Add(new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["name"] = "echo", ["arguments"] = new JsonObject { ["n"] = i } }) });
        }

        script.Add(new JsonObject { ["text"] = "done" });
        options.Mock.Responses["test"] = new() { ["agent"] = new JsonObject { ["agent_turns"] = script }.ToJsonString() };
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), TestGateways.Create(options), modules: [new AgentStepModule(new AgentServices(store, new HttpClient()))]);
        var workflow = Engine.TestWorkflows.Parse("""
            {"name": "test", "steps": [{"id": "agent", "type": "agent", "config": {"model": "mock/agent", "input": "go", "max_turns": 500,
              "tools": [{"name": "echo", "type": "transform", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}},
                         "config": {"operation": "merge", "inputs": [{"n": "${item.n}"}]}}]}}]}
            """);
        // Warm-up run (JIT, connection pool, prepared statements), then the measured one.
        await runner.RunAsync(workflow, null, new WorkflowRunOptions { RunId = await NewJobAsync(database) }, ct);
        store.Reset();
        var job = await NewJobAsync(database);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();

        var result = await runner.RunAsync(workflow, null, new WorkflowRunOptions { RunId = job }, ct);

        wall.Stop();
        var cpuPerTurn = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / (Turns + 1);
        var wallPerTurn = wall.Elapsed.TotalMilliseconds / (Turns + 1);
        var ledgerPerCall = store.ToolCallMs / Turns;
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Turns + 1} turns, {Turns} tool calls: {cpuPerTurn:F2} ms CPU per turn (whole test process), {wallPerTurn:F2} ms wall per turn, ledger writes {ledgerPerCall:F2} ms per tool call, turn checkpoint {store.TurnMs / (Turns + 1):F2} ms per turn"));
        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal(Turns, (int)result.Output!["tool_calls"]!);
        // Generous bounds (the machine is shared with other test classes); docs/AGENTS.md has the measured figures.
        Assert.True(cpuPerTurn < 25, $"{cpuPerTurn:F2} ms CPU per turn");
        Assert.True(ledgerPerCall < 25, $"{ledgerPerCall:F2} ms of ledger writes per tool call");
    }

    private static async Task<string> NewJobAsync(string database)
    {
        var id = Guid.NewGuid();
        await TestSql.ExecuteAsync(database, """
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, tenant_id)
            VALUES (@id, @id::text, 'test', 'processing', '{}', 'main-app')
            """, TestContext.Current.CancellationToken, ("id", id));
        return id.ToString();
    }

    /// <summary>Times the store's writes: the turn checkpoint and the ledger's begin/finish around each tool call.</summary>
    private sealed class TimedStore(IAgentStore inner) : IAgentStore
    {
        public double TurnMs { get; private set; }

        public double ToolCallMs { get; private set; }

        public void Reset() => (TurnMs, ToolCallMs) = (0, 0);

        public bool WritesUsageRows => inner.WritesUsageRows;

        public Task<AgentState> LoadAsync(string runId, string stepKey, CancellationToken cancellationToken) => inner.LoadAsync(runId, stepKey, cancellationToken);

        public async Task<AgentToolEntry?> SaveTurnAsync(
            string runId, string stepKey, AgentTurn turn, IReadOnlyList<AgentMessage> newMessages, AgentToolEntry? firstCall, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            var begun = await inner.SaveTurnAsync(runId, stepKey, turn, newMessages, firstCall, cancellationToken);
            TurnMs += Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return begun;
        }

        public async Task<AgentToolEntry> BeginToolCallAsync(string runId, string stepKey, AgentToolEntry entry, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            var begun = await inner.BeginToolCallAsync(runId, stepKey, entry, cancellationToken);
            ToolCallMs += Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return begun;
        }

        public async Task<AgentToolEntry?> FinishToolCallAsync(
            string runId, string stepKey, int turn, string callId, string status, AgentMessage result, AgentToolEntry? nextCall, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            var begun = await inner.FinishToolCallAsync(runId, stepKey, turn, callId, status, result, nextCall, cancellationToken);
            ToolCallMs += Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return begun;
        }

        public Task SetToolCallStatusAsync(string runId, string stepKey, int turn, string callId, string status, JsonObject arguments, CancellationToken cancellationToken) =>
            inner.SetToolCallStatusAsync(runId, stepKey, turn, callId, status, arguments, cancellationToken);

        public ICheckpointStore ChildCheckpoints(string runId, string callKey, string stepId, string workflowName) =>
            inner.ChildCheckpoints(runId, callKey, stepId, workflowName);
    }
}
