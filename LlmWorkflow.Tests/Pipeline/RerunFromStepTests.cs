using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// <c>POST /api/v1/jobs/{id}/retry</c> with <c>{"from_step"}</c>: a completed job runs again from that step; the steps
/// before it come back from their checkpoints (the fake provider's call count proves their LLM calls are not made
/// again), it and the ones after it run again; the ended attempt is kept with what its calls cost, and the job's cost
/// counts every call paid over all attempts; a step that is not a top-level step is a 400 naming from_step.
/// </summary>
[IntegrationTest]
public sealed class RerunFromStepTests(TestServers servers)
{
    [Fact]
    public async Task ACompletedJobRerunFromItsSecondStepPaysOnlyForTheSecondAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = (await TestEnvironment.CreateAsync(servers, nameof(RerunFromStepTests))).Settings(PipelineTestWorkflows.Settings(llm));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        using var submitted = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "two_llm_steps", input_data = new { topic = "rerun" } }, ct);
        var job = (string)(await submitted.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;
        var first = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)first["status"]);
        var firstAttemptCost = (decimal)first["metadata"]!["total_cost_usd"]!;
        var firstStepCost = StepCost(first, "first");
        Assert.True(firstStepCost > 0m && firstAttemptCost > firstStepCost, first["steps"]!.ToJsonString());

        using var unknown = await client.PostAsJsonAsync($"/api/v1/jobs/{job}/retry", new { from_step = "no_such_step" }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.NotNull((await unknown.Content.ReadFromJsonAsync<JsonObject>(ct))!["errors"]!["from_step"]);
        using var plain = await client.PostAsync($"/api/v1/jobs/{job}/retry", null, ct);
        Assert.Equal(HttpStatusCode.Conflict, plain.StatusCode); // a plain retry is for failed or cancelled jobs

        using var rerun = await client.PostAsJsonAsync($"/api/v1/jobs/{job}/retry", new { from_step = "second" }, ct);
        Assert.Equal(HttpStatusCode.Accepted, rerun.StatusCode);
        var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "FIRST: write one sentence about rerun."));
        Assert.Equal(2, PipelineTestWorkflows.CallsContaining(llm, "SECOND: expand on:"));
        var previous = done["previous_attempts"]!.AsArray().Single()!;
        Assert.Equal("completed", (string?)previous["status"]);
        Assert.NotNull(done["result"]!["output"]!["second"]);

        // Three calls were paid (first once, second twice): the job's cost counts all three, and the ended attempt
        // carries what its second call cost (the same prompt, so the same as the new one's).
        var secondCallCost = firstAttemptCost - firstStepCost;
        Assert.Equal(secondCallCost, (decimal?)previous["cost_usd"]);
        Assert.Equal(firstAttemptCost + secondCallCost, (decimal)done["metadata"]!["total_cost_usd"]!);

        // A second rerun from the first step: every call is paid again and the job's cost counts all five.
        using var again = await client.PostAsJsonAsync($"/api/v1/jobs/{job}/retry", new { from_step = "first" }, ct);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        var last = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", TimeSpan.FromSeconds(30), ct);
        Assert.Equal(2, PipelineTestWorkflows.CallsContaining(llm, "FIRST: write one sentence about rerun."));
        Assert.Equal(firstAttemptCost, (decimal?)last["previous_attempts"]!.AsArray()[1]!["cost_usd"]);
        Assert.Equal(2 * firstAttemptCost + secondCallCost, (decimal)last["metadata"]!["total_cost_usd"]!);
    }

    private static decimal StepCost(JsonObject status, string stepId) =>
        status["steps"]!.AsArray().Where(s => (string?)s!["step_id"] == stepId).Sum(s => (decimal?)s!["cost_usd"] ?? 0m);
}
