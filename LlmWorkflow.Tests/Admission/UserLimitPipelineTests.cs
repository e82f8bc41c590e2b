using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// A tenant's per-user LLM limits (<c>Tenants:&lt;id&gt;:PerUserLimits:…</c>) over every worker, on real servers with
/// two workers and a fake OpenAI: each user of the test caller's tenant (<c>tests</c>) may make one request per
/// two-second window; the limit is each user's own, so one user's backlog does not hold back another user's call.
/// </summary>
[IntegrationTest]
public sealed class UserLimitPipelineTests(TestServers servers)
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task AUsersRequestLimitHoldsOverTwoWorkersWithoutHoldingBackAnotherUserOfTheTenant()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        var environment = await TestEnvironment.CreateAsync(servers, nameof(UserLimitPipelineTests));
        var settings = environment.Settings(AdmissionPipelineTests.Settings(llm, new Dictionary<string, string?>
        {
            ["Tenants:tests:PerUserLimits:RequestsPerMinute"] = "1",
            ["Llm:Admission:Window"] = "00:00:02",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var first = await WorkerHost.StartAsync(settings, ct);
        await using var second = await WorkerHost.StartAsync(settings, ct);

        var busyUsersJobs = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            busyUsersJobs.Add(await SubmitAsync(client, "busy user", $"[busy-{i}]", ct));
        }

        var otherUsersJob = await SubmitAsync(client, "other user", "[other-0]", ct);
        var otherDone = await JobPolling.WaitForTerminalAsync(client, otherUsersJob, JobTimeout, ct);
        var ended = new List<JsonObject>();
        foreach (var job in busyUsersJobs)
        {
            ended.Add(await JobPolling.WaitForTerminalAsync(client, job, JobTimeout, ct));
        }

        var calls = llm.Accepted.Where(c => c.Body.Contains("[busy-", StringComparison.Ordinal)).Select(c => c.At).Order().ToList();
        var peak = calls.Max(at => calls.Count(c => c >= at && c < at + Window));
        var otherCall = llm.Accepted.Single(c => c.Body.Contains("[other-0]", StringComparison.Ordinal)).At;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"4 jobs of a user limited to 1 request per {Window.TotalSeconds} s: peak {peak} in a window, calls over {(calls[^1] - calls[0]).TotalSeconds:F1} s; " +
            $"the other user's call came {(otherCall - calls[0]).TotalSeconds:F1} s after the first");
        Assert.All(ended, j => Assert.Equal("completed", (string?)j["status"]));
        Assert.Equal("completed", (string?)otherDone["status"]);
        Assert.Equal(4, calls.Count);
        Assert.Equal(1, peak);
        // Four calls at one per window take at least three windows; the other user's call waited for none of them.
        Assert.True(calls[^1] - calls[0] >= Window * 3, "the limited user's calls were not spread over the windows");
        Assert.True(otherCall < calls[^1], "the other user's call waited behind the busy user's");
        Assert.Equal(0, llm.RateLimited);
    }

    private static async Task<string> SubmitAsync(HttpClient client, string userId, string question, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "budgeted_llm_step", input_data = new { question }, user_id = userId }, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["status_url"]!;
    }
}
