using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>With a backlog in every band, a worker starts high-priority jobs before normal and low ones.</summary>
[IntegrationTest]
public sealed class PriorityTests(TestServers servers)
{
    [Fact]
    public async Task BacklogIsDrainedHighestPriorityFirst()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(PriorityTests));
        // One job at a time makes the start order observable.
        var settings = environment.Settings(new Dictionary<string, string?> { ["Worker:MaxConcurrentJobs"] = "1" });
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();

        var submitted = new List<(Guid Id, int Priority)>();
        foreach (var priority in new[] { 0, 1, 5, 9, 0, 4, 10, 2, 7, 6, 3, 8 })
        {
            var response = await client.PostAsJsonAsync("/api/v1/workflow",
                new { workflow_name = "hello_transform", input_data = new { name = $"p{priority}" }, priority }, ct);
            var body = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            submitted.Add((Guid.Parse((string)body!["job_id"]!), priority));
        }

        await using (var worker = await WorkerHost.StartAsync(settings, ct))
        {
            foreach (var (id, _) in submitted)
            {
                await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{id}", TimeSpan.FromSeconds(60), ct);
            }
        }

        await using var scope = api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LlmWorkflowDbContext>();
        var started = await db.Jobs.AsNoTracking().OrderBy(j => j.StartedAt).Select(j => j.Priority).ToListAsync(ct);
        var bands = started.Select(p => PriorityBands.ForPriority(p)).ToList();
        Assert.Equal(bands.OrderBy(b => b).ToList(), bands);
    }
}
