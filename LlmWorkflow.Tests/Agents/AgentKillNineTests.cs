using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// kill -9 of a real worker process (<see cref="WorkerProcess"/>) under three agent loops at once, on real PostgreSQL
/// and redis-server, with a fake OpenAI-compatible provider (<see cref="ScriptedAgentProvider"/>) and a fake order
/// service over HTTP tools (<see cref="IdempotentToolServer"/>). One loop is killed while its model turn is in flight
/// (the provider holds the answer), one while its <c>lookup_order</c> call is in flight (the service holds it), one
/// while it is parked on the approval of its <c>refund</c>. A new worker takes the loops over and every refund is
/// approved through the signal API. After that:
/// <list type="bullet">
/// <item>every tool operation ran exactly once: the service's executions per Idempotency-Key. Requests per key are one,
/// except the call in flight at the kill, which is sent once more with the same key: its ledger row says <c>started</c>,
/// and no worker can know whether a request whose answer never came ran, so it is retried with its key and the service
/// (which honours the key, as payment APIs do) answers the stored result without running it again;</item>
/// <item>no finished model turn was paid twice: the provider delivered each turn's answer once (the held turn's answer
/// was never delivered, so its retry is its first payment);</item>
/// <item>each loop finished with the answer an uninterrupted loop gives: the order's status and the one refund issued.</item>
/// </list>
/// </summary>
[SystemTest]
public sealed class AgentKillNineTests(TestServers servers)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private const string InModelTurn = "K9-turn";
    private const string InToolCall = "K9-tool";
    private const string OnApproval = "K9-approval";

    [Fact]
    public async Task LoopsKilledInAModelTurnInAToolCallAndOnAnApprovalFinishOnANewWorkerWithoutPayingOrRunningAnythingTwice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await ScriptedAgentProvider.StartAsync();
        await using var tools = await IdempotentToolServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AgentKillNineTests));
        var settings = environment.Settings(Settings(provider));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var doomed = await WorkerProcess.StartAsync(new Dictionary<string, string?>(settings) { ["Worker:Id"] = "agent-k9-doomed" });

        var heldTurn = provider.Hold(InModelTurn, turn: 1);
        var heldTool = tools.Hold("orders", InToolCall);
        var jobs = new Dictionary<string, string>();
        foreach (var order in new[] { InModelTurn, InToolCall, OnApproval })
        {
            jobs[order] = await SubmitAsync(client, order, tools.BaseUrl, ct);
        }

        // The three loops at their kill points: a model turn in flight, a tool call in flight, a refund awaiting approval.
        await heldTurn.Arrived.WaitAsync(Patience, ct);
        await heldTool.Arrived.WaitAsync(Patience, ct);
        await WaitForApprovalAsync(client, jobs[OnApproval], ct);
        Assert.Equal(1, provider.Paid(InModelTurn, 0));
        Assert.Equal(0, provider.Paid(InToolCall, 1));

        await doomed.KillAsync();
        // The held turn's answer is dropped (the worker that asked is gone); the held lookup runs now and its answer goes nowhere.
        heldTurn.Release();
        heldTool.Release();
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(tools.Executions.Values.Count(r => r == "orders") == 3), Patience);

        await using var survivor = await WorkerProcess.StartAsync(new Dictionary<string, string?>(settings) { ["Worker:Id"] = "agent-k9-survivor" });
        foreach (var (order, job) in jobs)
        {
            await WaitForApprovalAsync(client, job, ct);
            Assert.DoesNotContain(tools.Requests, r => r.Path.EndsWith("/refunds", StringComparison.Ordinal) && (string?)r.Json?["order_id"] == order);
            using var approved = await client.PostAsJsonAsync($"/api/v1/jobs/{job}/signals/approval", new { approved = true, comment = "ok" }, ct);
            Assert.True(approved.StatusCode == HttpStatusCode.Accepted, await approved.Content.ReadAsStringAsync(ct));
        }

        var refundIds = new HashSet<string>();
        foreach (var (order, job) in jobs)
        {
            var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", Patience, ct);
            Assert.True((string?)done["status"] == "completed", done.ToJsonString());
            var output = done["result"]!["output"]!;
            var refundId = RefundId(tools, order);
            refundIds.Add(refundId);
            Assert.Equal(ScriptedAgentProvider.FinalAnswer(order, "delivered", refundId), (string?)output["answer"]);
            Assert.Equal(("answered", 3, 2), ((string?)output["stop_reason"], (int)output["turns"]!, (int)output["tool_calls"]!));
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"tool requests per key: {string.Join(", ", tools.RequestsPerKey.Select(k => $"{tools.Executions[k.Key]} {k.Key[..8]}={k.Value}"))}; " +
            $"paid turns: {string.Join(", ", provider.PaidTurns.OrderBy(t => t.Key).Select(t => $"{t.Key.Order}#{t.Key.Turn}={t.Value}"))}; " +
            $"provider requests {provider.CallCount}");
        AssertEveryToolRanOnce(tools);
        AssertNoTurnPaidTwice(provider);
        await AssertOneUsageRowPerPaidTurnAsync(environment, jobs, ct);
        Assert.Equal(3, refundIds.Count);
        Assert.Equal(2, provider.RequestsFor(InModelTurn, 1)); // the held request, then the new worker's
    }

    private static Dictionary<string, string?> Settings(ScriptedAgentProvider provider) => new()
    {
        ["Workflows:Root"] = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Agents", "workflows"),
        ["Pricing:FilePath"] = Path.Combine(RepositoryPaths.Workflows, "pricing.json"),
        ["Llm:Providers:openai:BaseUrl"] = provider.ApiUrl.ToString(),
        ["Llm:Providers:openai:ApiKey"] = "sk-test",
        ["Llm:Retry:MaxAttempts"] = "1",
        // The fake order service listens on loopback.
        ["External:Http:AllowPrivateNetworks"] = "true",
        // A killed worker's job is reclaimed within seconds, not the shipped lease.
        ["Worker:LeaseDuration"] = "00:00:02",
        ["Worker:ReclaimInterval"] = "00:00:00.500",
        ["Worker:RedispatchAfter"] = "00:00:03",
        ["Worker:ReconcileInterval"] = "00:00:01",
    };

    private static async Task<string> SubmitAsync(HttpClient client, string order, Uri toolServer, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "agent_kill_nine", input_data = new { order_id = order, tool_server = toolServer.ToString() } }, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["job_id"]!;
    }

    /// <summary>Waits until the job is parked on its refund's approval.</summary>
    private static async Task WaitForApprovalAsync(HttpClient client, string job, CancellationToken ct)
    {
        var waiting = await JobPolling.WaitForStatusAsync(client, $"/api/v1/status/{job}", "waiting", Patience, ct);
        Assert.True((string?)waiting["waiting_for"]?["kind"] == "approval", waiting.ToJsonString());
    }

    /// <summary>The refund the service issued for <paramref name="order"/>: exactly one key ran a refund for it.</summary>
    private static string RefundId(IdempotentToolServer tools, string order)
    {
        var refunds = tools.Requests.Where(r => r.Path.EndsWith("/refunds", StringComparison.Ordinal) && (string?)r.Json?["order_id"] == order)
            .Select(r => r.Header("Idempotency-Key")).Distinct().ToList();
        Assert.Single(refunds);
        return tools.RefundIdOf(refunds[0]!);
    }

    private static void AssertEveryToolRanOnce(IdempotentToolServer tools)
    {
        Assert.Equal(0, tools.Unkeyed);
        // Two operations per loop, each under its own key, each run once (a key runs at most once by the service's design,
        // so the count of keys that ran is what shows no second call under a new key).
        Assert.Equal(6, tools.Executions.Count);
        Assert.Equal(3, tools.Executions.Values.Count(r => r == "refunds"));
        var retried = tools.RequestsPerKey.Where(k => k.Value > 1).ToList();
        var lookupInFlight = tools.Requests.First(r => r.Path.EndsWith($"/orders/{InToolCall}", StringComparison.Ordinal)).Header("Idempotency-Key");
        Assert.Equal([(lookupInFlight!, 2)], retried.Select(k => (k.Key, k.Value)));
    }

    /// <summary>
    /// Each paid turn has one usage row, those paid before the kill included: a turn's row is written in the turn's own
    /// transaction, so the recovered loop still records what its finished turns cost (and a restored turn adds none).
    /// </summary>
    private static async Task AssertOneUsageRowPerPaidTurnAsync(TestEnvironment environment, Dictionary<string, string> jobs, CancellationToken ct)
    {
        foreach (var (order, job) in jobs)
        {
            var turns = await TestSql.ScalarAsync(environment.PostgresConnectionString, """
                SELECT string_agg(coalesce(metadata->>'agent_turn', '?'), ',' ORDER BY (metadata->>'agent_turn')::int)
                  FROM llm_provider_usage WHERE job_id = @job
                """, ct, ("job", Guid.Parse(job)));
            Assert.True((string?)turns == "0,1,2", $"{order}: usage rows of turns {turns}");
        }
    }

    private static void AssertNoTurnPaidTwice(ScriptedAgentProvider provider)
    {
        Assert.Equal(9, provider.PaidTurns.Count); // three turns of three loops
        Assert.All(provider.PaidTurns, turn => Assert.True(turn.Value == 1, $"turn {turn.Key.Turn} of {turn.Key.Order} was paid {turn.Value} times"));
    }
}
