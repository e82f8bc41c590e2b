using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Workflows;

/// <summary>
/// The real API and a real Worker on one test class's database and Redis prefix, with helpers to submit a workflow,
/// wait for it and read its Server-Sent Events.
/// </summary>
internal sealed class WorkflowStack : IAsyncDisposable
{
    private readonly ApiFactory _api;
    private readonly WorkerHost _worker;

    private WorkflowStack(ApiFactory api, WorkerHost worker)
    {
        _api = api;
        _worker = worker;
        Client = api.CreateAuthenticatedClient();
    }

    public HttpClient Client { get; }

    /// <summary>Settings every workflow test needs besides its own: no external response cache, fast retries.</summary>
    public static Dictionary<string, string?> BaseSettings() => new()
    {
        ["External:Services:google_places:CacheTtl"] = "00:00:00",
        ["External:MaxAttempts"] = "2",
        ["External:RetryBaseDelay"] = "00:00:00.010",
        ["External:RetryMaxDelay"] = "00:00:00.050",
        ["Llm:Retry:BaseDelay"] = "00:00:00.010",
        ["Llm:Retry:MaxDelay"] = "00:00:00.050",
        ["Llm:Retry:UseJitter"] = "false",
    };

    public static async Task<WorkflowStack> StartAsync(TestServers servers, string name, IDictionary<string, string?> settings)
    {
        var environment = await TestEnvironment.CreateAsync(servers, name);
        var all = environment.Settings(settings);
        var api = new ApiFactory(all);
        var worker = await WorkerHost.StartAsync(environment.Settings(new Dictionary<string, string?>(settings) { ["Worker:Id"] = name + "-worker" }));
        return new WorkflowStack(api, worker);
    }

    /// <summary>Submits and returns the 202 body.</summary>
    public async Task<JsonObject> SubmitAsync(object request, CancellationToken cancellationToken)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/workflow", request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>Submits, waits for a terminal state and returns the status document.</summary>
    public async Task<JsonObject> RunAsync(string workflow, JsonNode input, CancellationToken cancellationToken, object? extra = null)
    {
        var request = new JsonObject { ["workflow_name"] = workflow, ["input_data"] = input.DeepClone() };
        if (extra is not null)
        {
            foreach (var (key, value) in JsonSerializerHelpers.ToObject(extra))
            {
                request[key] = value?.DeepClone();
            }
        }

        var accepted = await SubmitAsync(request, cancellationToken);
        return await JobPolling.WaitForTerminalAsync(Client, (string)accepted["status_url"]!, TimeSpan.FromSeconds(60), cancellationToken);
    }

    /// <summary>The job's events as the SSE endpoint sends them (the stream ends after the terminal event).</summary>
    public async Task<IReadOnlyList<(string Type, JsonObject Data)>> EventsAsync(string jobId, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var text = await Client.GetStringAsync($"/api/v1/jobs/{jobId}/events", timeout.Token);
        var events = new List<(string, JsonObject)>();
        foreach (var block in text.ReplaceLineEndings("\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            var type = lines.FirstOrDefault(l => l.StartsWith("event: ", StringComparison.Ordinal))?["event: ".Length..];
            var data = string.Join("\n", lines.Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l["data: ".Length..]));
            if (type is not null && data.Length > 0)
            {
                events.Add((type, JsonNode.Parse(data)!.AsObject()));
            }
        }

        return events;
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        Client.Dispose();
        await _api.DisposeAsync();
    }
}

internal static class JsonSerializerHelpers
{
    public static JsonObject ToObject(object value) => System.Text.Json.JsonSerializer.SerializeToNode(value)!.AsObject();
}
