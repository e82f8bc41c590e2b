using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The real API and an in-process Worker on a test class's database, running the pipeline test workflows against a
/// fake OpenAI server the test scripts (latency, hanging answers, call counts).
/// </summary>
internal sealed class LlmPipeline : IAsyncDisposable
{
    private LlmPipeline(FakeOpenAiServer llm, ApiFactory api, HttpClient client, WorkerHost worker)
    {
        Llm = llm;
        Api = api;
        Client = client;
        Worker = worker;
    }

    public FakeOpenAiServer Llm { get; }

    public ApiFactory Api { get; }

    public HttpClient Client { get; }

    public WorkerHost Worker { get; }

    /// <param name="scriptLlm">Set latency or queue scripted answers before the worker starts.</param>
    /// <param name="extra">Settings on top of the pipeline test settings.</param>
    public static async Task<LlmPipeline> StartAsync(
        TestServers servers, string name, Action<FakeOpenAiServer> scriptLlm, CancellationToken ct, IDictionary<string, string?>? extra = null)
    {
        var llm = await FakeOpenAiServer.StartAsync();
        scriptLlm(llm);
        var environment = await TestEnvironment.CreateAsync(servers, name);
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, extra));
        var api = new ApiFactory(settings);
        return new LlmPipeline(llm, api, api.CreateAuthenticatedClient(), await WorkerHost.StartAsync(settings, ct));
    }

    /// <summary>Submits a job and returns its status URL.</summary>
    public async Task<string> SubmitAsync(string workflow, object input, CancellationToken ct)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = workflow, input_data = input }, ct);
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!;
    }

    public async ValueTask DisposeAsync()
    {
        await Worker.DisposeAsync();
        Client.Dispose();
        await Api.DisposeAsync();
        await Llm.DisposeAsync();
    }
}
