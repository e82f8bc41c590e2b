using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Api;

/// <summary>
/// <c>GET /api/v1/jobs/{id}/agent/turns</c> on a real API and Worker running the shipped <c>support_agent</c> on the mock
/// provider: parked on its refund approval it shows the paid turns, the finished lookup and the call waiting for a
/// person; the signal endpoint refuses an event the workflow never awaits (the agent module says which: approval) and takes
/// the approval with edited arguments; afterwards the turns' usage adds up to the step's record and the ledger's rows,
/// the approval and its edit are shown; another tenant gets 404, a missing step_key 400.
/// </summary>
[IntegrationTest]
public sealed class AgentTurnsEndpointTests(TestServers servers) : IAsyncLifetime
{
    private const string OtherTenantKey = "agent-turns-other-tenant";
    private ApiFactory _api = null!;
    private WorkerHost _worker = null!;
    private HttpClient _client = null!;
    private string _postgres = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AgentTurnsEndpointTests));
        _postgres = environment.PostgresConnectionString;
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Auth:ApiKeys:2:Name"] = "other",
            ["Auth:ApiKeys:2:Key"] = OtherTenantKey,
            ["Auth:ApiKeys:2:Tenant"] = "other-app",
        });
        _api = new ApiFactory(settings);
        _client = _api.CreateAuthenticatedClient();
        _worker = await WorkerHost.StartAsync(settings, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        _client.Dispose();
        await _api.DisposeAsync();
    }

    [Fact]
    public async Task TheTurnsOfAParkedThenApprovedAgentStepAreReadTurnByTurn()
    {
        var job = await SubmitAsync();
        await JobPolling.WaitForStatusAsync(_client, $"/api/v1/status/{job}", "waiting", TimeSpan.FromSeconds(60), Ct);

        var parked = await TurnsAsync(job);
        Assert.Equal([0, 1], parked["turns"]!.AsArray().Select(t => (int)t!["turn"]!));
        var lookup = Call(parked, 0, "lookup_order");
        Assert.Equal(("finished", null), ((string?)lookup["status"], lookup["approval"]));
        Assert.Contains("torn strap", (string?)lookup["result_summary"], StringComparison.Ordinal);
        var refund = Call(parked, 1, "issue_refund");
        Assert.Equal(("awaiting_approval", "pending"), ((string?)refund["status"], (string?)refund["approval"]!["decision"]));
        Assert.All(parked["turns"]!.AsArray(), t => Assert.Equal("tool_calls", (string?)t!["finish_reason"]));

        // The agent module answers which events its step awaits: "shipped" would never be taken.
        using var shipped = await PostJsonAsync($"/api/v1/jobs/{job}/signals/shipped", "{}");
        var refused = (await shipped.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal(HttpStatusCode.UnprocessableEntity, shipped.StatusCode);
        Assert.Equal(["approval"], refused["awaited_events"]!.AsArray().Select(e => (string?)e));

        using var approved = await PostJsonAsync($"/api/v1/jobs/{job}/signals/approval",
            """{"approved": true, "comment": "<b>half</b> only", "arguments": {"order_id": "A-1042", "amount_usd": 21.25}}""");
        Assert.Equal(HttpStatusCode.Accepted, approved.StatusCode);
        var done = await JobPolling.WaitForTerminalAsync(_client, $"/api/v1/status/{job}", TimeSpan.FromSeconds(60), Ct);
        Assert.Equal("completed", (string?)done["status"]);

        var finished = await TurnsAsync(job);
        var turns = finished["turns"]!.AsArray();
        Assert.Equal(await CountAsync("SELECT count(*) FROM llm_agent_turns WHERE job_id = $1", job), turns.Count);
        Assert.Equal(3, turns.Count);
        Assert.Equal(("stop", 0), ((string?)turns[2]!["finish_reason"], turns[2]!["tool_calls"]!.AsArray().Count));
        Assert.False(string.IsNullOrWhiteSpace((string?)turns[2]!["text"]));
        refund = Call(finished, 1, "issue_refund");
        Assert.Equal(("finished", 21.25m), ((string?)refund["status"], (decimal)refund["arguments"]!["amount_usd"]!));
        var decision = refund["approval"]!;
        Assert.Equal(("approved", "<b>half</b> only", "api", true),
            ((string?)decision["decision"], (string?)decision["comment"], (string?)decision["decided_by"], (bool)decision["arguments_edited"]!));

        // The turns add up to what the worker recorded for the step.
        var step = done["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == "resolve_request")!;
        Assert.Equal(((int?)step["input_tokens"], (int?)step["output_tokens"]), ((int?)finished["input_tokens"], (int?)finished["output_tokens"]));
        Assert.Equal(turns.Sum(t => (int)t!["input_tokens"]!), (int)finished["input_tokens"]!);
        Assert.Equal((decimal?)step["cost_usd"], (decimal?)finished["cost_usd"]);
        Assert.Equal(await CountAsync("SELECT count(*) FROM llm_agent_tool_calls WHERE job_id = $1", job), turns.Sum(t => t!["tool_calls"]!.AsArray().Count));
    }

    [Fact]
    public async Task AnotherTenantGets404AndAMissingStepKey400()
    {
        var job = await SubmitAsync();
        using var other = _api.CreateClient();
        other.DefaultRequestHeaders.Add("X-API-Key", OtherTenantKey);
        using var foreign = await other.GetAsync($"/api/v1/jobs/{job}/agent/turns?step_key=resolve_request", Ct);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);

        using var missing = await _client.GetAsync($"/api/v1/jobs/{job}/agent/turns", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.NotNull((await missing.Content.ReadFromJsonAsync<JsonObject>(Ct))!["errors"]!["step_key"]);

        using var unknown = await _client.GetAsync($"/api/v1/jobs/{Guid.NewGuid()}/agent/turns?step_key=resolve_request", Ct);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var cancel = await _client.DeleteAsync($"/api/v1/workflow/{job}", Ct);
    }

    private static JsonObject Call(JsonObject turns, int turn, string tool) =>
        turns["turns"]!.AsArray().Single(t => (int)t!["turn"]! == turn)!["tool_calls"]!.AsArray().Single(c => (string?)c!["tool"] == tool)!.AsObject();

    private async Task<string> SubmitAsync()
    {
        using var response = await _client.PostAsJsonAsync("/api/v1/workflow", new
        {
            workflow_name = "support_agent",
            input_data = new { customer_name = "Ana", order_id = "A-1042", message = "My backpack's strap tore on day one." },
        }, Ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["job_id"]!;
    }

    private async Task<JsonObject> TurnsAsync(string job)
    {
        using var response = await _client.GetAsync($"/api/v1/jobs/{job}/agent/turns?step_key=resolve_request", Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private Task<HttpResponseMessage> PostJsonAsync(string url, string body) =>
        _client.PostAsync(url, new StringContent(body, Encoding.UTF8, "application/json"), Ct);

    private async Task<int> CountAsync(string sql, string job)
    {
        await using var connection = new NpgsqlConnection(_postgres);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = Guid.Parse(job) } } };
        return Convert.ToInt32(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
    }
}
