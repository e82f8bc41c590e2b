using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// A queued job of a capped tenant holds one of its slots; cancelling it frees the slot at once: the next job the cap
/// held is queued (with its stream entry) by the cancel itself. No worker runs here, so no reconciler could do it.
/// </summary>
[IntegrationTest]
public sealed class SlotReleaseOnCancelTests(TestServers servers)
{
    [Fact]
    public async Task CancellingAQueuedJobOfACappedTenantQueuesTheJobItsCapHeldAtOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(SlotReleaseOnCancelTests));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
        {
            ["Tenants:tests:MaxConcurrentJobs"] = "1",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();

        var first = await SubmitAsync(client, "[first]", ct);
        var second = await SubmitAsync(client, "[second]", ct);
        Assert.Equal("queued", await StatusAsync(client, first, ct));
        var held = await client.GetFromJsonAsync<JsonObject>($"/api/v1/status/{second}", ct);
        Assert.Equal(("waiting", "slot"), ((string?)held!["status"], (string?)held["waiting_for"]?["kind"]));
        Assert.DoesNotContain(second, await DispatchedJobIdsAsync(api));

        using var cancel = await client.DeleteAsync($"/api/v1/workflow/{first}", ct);
        cancel.EnsureSuccessStatusCode();

        Assert.Equal("cancelled", await StatusAsync(client, first, ct));
        Assert.Equal("queued", await StatusAsync(client, second, ct));
        Assert.Contains(second, await DispatchedJobIdsAsync(api));
    }

    private static async Task<Guid> SubmitAsync(HttpClient client, string question, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "one_llm_step", input_data = new { question } }, ct);
        response.EnsureSuccessStatusCode();
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!);
    }

    private static async Task<string?> StatusAsync(HttpClient client, Guid job, CancellationToken ct) =>
        (string?)(await client.GetFromJsonAsync<JsonObject>($"/api/v1/status/{job}", ct))!["status"];

    private static async Task<List<Guid>> DispatchedJobIdsAsync(ApiFactory api)
    {
        var queue = api.Services.GetRequiredService<JobQueue>();
        var redis = api.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var ids = new List<Guid>();
        foreach (var key in queue.StreamKeys)
        {
            ids.AddRange((await redis.StreamRangeAsync(key)).Select(e => Guid.Parse((string)e["job_id"]!)));
        }

        return ids;
    }
}
