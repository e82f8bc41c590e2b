using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// The agent step's <c>workflow</c> tool in the hosts as shipped: the API takes a job of <c>agent_greets</c>, a worker
/// runs its agent on the mock provider, whose tool call runs the catalog's <c>greeter</c> as a child (the worker's
/// registration resolves the catalog and the runner); the child's output is what the model got, in the job's stored
/// loop, and the call's ledger row is finished.
/// </summary>
[IntegrationTest]
public sealed class WorkflowToolPipelineTests(TestServers servers)
{
    [Fact]
    public async Task AJobsAgentRunsTheCatalogsChildWorkflowAsATool()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(WorkflowToolPipelineTests));
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Workflows:Root"] = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Agents", "workflows"),
            ["Pricing:FilePath"] = Path.Combine(RepositoryPaths.Workflows, "pricing.json"),
        });
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        using var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "agent_greets", input_data = new { who = "Ada" } }, ct);
        var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, accepted?.ToJsonString());
        var job = (string)accepted!["job_id"]!;
        var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", TimeSpan.FromSeconds(60), ct);

        Assert.True((string?)done["status"] == "completed", done.ToJsonString());
        Assert.Equal(("I greeted Ada.", 1), ((string?)done["result"]!["output"]!["answer"], (int)done["result"]!["output"]!["tool_calls"]!));
        var toolResults = await CountAsync(environment, "SELECT count(*) FROM llm_agent_messages WHERE job_id = @job AND content LIKE '%Hello, Ada!%' AND content LIKE '%greeter%'", job, ct);
        Assert.Equal(1, toolResults);
        var finishedCalls = await CountAsync(environment, "SELECT count(*) FROM llm_agent_tool_calls WHERE job_id = @job AND tool_name = 'greet' AND call_status = 'finished'", job, ct);
        Assert.Equal(1, finishedCalls);
    }

    private static async Task<long> CountAsync(TestEnvironment environment, string sql, string job, CancellationToken ct) =>
        Convert.ToInt64(await TestSql.ScalarAsync(environment.PostgresConnectionString, sql, ct, ("job", Guid.Parse(job))), CultureInfo.InvariantCulture);
}
