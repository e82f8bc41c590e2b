using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// A job with a streaming agent step (<c>agent_streams</c>, <c>stream: true</c>) on real PostgreSQL and redis-server,
/// its model a fake OpenAI-compatible provider streaming SSE chunks (text, and a tool call in fragments), its tool a fake
/// order service. The job's event stream, read with an independent SSE parser (<see cref="SseParser"/>), carries each
/// turn's text as <c>agent_delta</c> events that spell the turn's recorded text and all come before its
/// <c>agent_turn</c>; the tool the streamed turn asked for ran exactly once.
/// </summary>
[IntegrationTest]
public sealed class AgentStreamingPipelineTests(TestServers servers)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly string[] LookupChunks = ["Let me ", "look ", "that ", "order ", "up."];
    private static readonly string[] AnswerChunks = ["Order ", "S-5 ", "was ", "delivered ", "yesterday ", "at ", "noon", "."];

    [Fact]
    public async Task TheEventStreamCarriesEachTurnsDeltasBeforeItsTurnAndTheStreamedToolCallRunsOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        await using var tools = await FakeToolServer.StartAsync();
        var chunkGap = TimeSpan.FromMilliseconds(10);
        provider.Enqueue(FakeOpenAiStream.Answer(LookupChunks, [("call_s5", "lookup_order", new JsonObject { ["order_id"] = "S-5" })], chunkGap));
        provider.Enqueue(FakeOpenAiStream.Answer(AnswerChunks, chunkDelay: chunkGap));
        var settings = (await TestEnvironment.CreateAsync(servers, nameof(AgentStreamingPipelineTests))).Settings(new Dictionary<string, string?>
        {
            ["Workflows:Root"] = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Agents", "workflows"),
            ["Pricing:FilePath"] = Path.Combine(RepositoryPaths.Workflows, "pricing.json"),
            ["Llm:Providers:openai:BaseUrl"] = provider.ApiUrl.ToString(),
            ["Llm:Providers:openai:ApiKey"] = "sk-test",
            ["External:Http:AllowPrivateNetworks"] = "true",
        });
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        using var submitted = await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "agent_streams", input_data = new { order_id = "S-5", tool_server = tools.BaseUrl.ToString() } }, ct);
        var accepted = await submitted.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(submitted.StatusCode == HttpStatusCode.Accepted, accepted?.ToJsonString());
        var job = (string)accepted!["job_id"]!;
        var events = await ReadEventsAsync(client, job, ct);

        var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", Patience, ct);
        Assert.True((string?)done["status"] == "completed", done.ToJsonString());
        Assert.Equal(string.Concat(AnswerChunks), (string?)done["result"]!["output"]!["answer"]);
        var turns = (await client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{job}/agent/turns?step_key=agent", ct))!["turns"]!.AsArray();
        Assert.Equal(2, turns.Count);
        Assert.Equal([string.Concat(LookupChunks), string.Concat(AnswerChunks)], turns.Select(t => (string?)t!["text"]));
        for (var turn = 0; turn < turns.Count; turn++)
        {
            AssertDeltasSpellTheTurnBeforeItsEnd(events, turn, (string)turns[turn]!["text"]!);
        }

        // The streamed tool call ran once: one request to the order service, one call and one result on the stream.
        Assert.Equal(["/orders/S-5"], tools.Requests.Select(r => r.Path));
        Assert.Equal(1, events.Count(e => e.Type == "agent_tool_call"));
        Assert.Equal("finished", (string?)Assert.Single(events, e => e.Type == "agent_tool_result").Data["status"]);
        Assert.DoesNotContain(events, e => e.Type == "agent_turn_restarted");
        Assert.All(provider.Requests, r => Assert.True(r.Json!["stream"]!.GetValue<bool>()));
    }

    /// <summary>Reads the job's SSE stream to its end (it closes after the terminal event).</summary>
    private static async Task<List<(string Type, JsonObject Data)>> ReadEventsAsync(HttpClient client, string job, CancellationToken ct)
    {
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(ct);
        reading.CancelAfter(Patience);
        using var response = await client.GetAsync($"/api/v1/jobs/{job}/events", HttpCompletionOption.ResponseHeadersRead, reading.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = new List<(string, JsonObject)>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(reading.Token)).EnumerateAsync(reading.Token))
        {
            events.Add((item.EventType, JsonNode.Parse(item.Data)!.AsObject()));
        }

        Assert.Equal("run_completed", events[^1].Item1);
        return events;
    }

    private static void AssertDeltasSpellTheTurnBeforeItsEnd(List<(string Type, JsonObject Data)> events, int turn, string text)
    {
        var deltas = events.Select((e, i) => (e, i)).Where(x => x.e.Type == "agent_delta" && (int)x.e.Data["turn"]! == turn).ToList();
        Assert.NotEmpty(deltas);
        Assert.All(deltas, d => Assert.Equal(("agent", 0), ((string?)d.e.Data["step_key"], (int)d.e.Data["attempt"]!)));
        Assert.Equal(text, string.Concat(deltas.Select(d => (string)d.e.Data["text"]!)));
        var turnEnd = events.FindIndex(e => e.Type == "agent_turn" && (int)e.Data["turn"]! == turn);
        Assert.True(turnEnd > deltas[^1].i, $"turn {turn}: its agent_turn (#{turnEnd}) came before its last delta (#{deltas[^1].i})");
    }
}
