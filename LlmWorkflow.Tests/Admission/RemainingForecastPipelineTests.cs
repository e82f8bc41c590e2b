using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// The job's remaining-cost forecast on real servers (PostgreSQL, redis-server, one worker) against a fake OpenAI that
/// answers every call with 200 output tokens. The workflows have three gpt-4o steps of max_tokens 250: a step's worst
/// case is about $0.0026, its forecast before history about the same, and a call costs about $0.0021.
/// </summary>
[IntegrationTest]
public sealed class RemainingForecastPipelineTests(TestServers servers)
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Two steps fit one after the other ($0.0021 + $0.0026), the third does not, nor the three at once (about $0.0078).</summary>
    private const decimal JobBudget = 0.006m;

    [Fact]
    public async Task WithBudgetCheckRemainingAJobWhoseThreeStepsCannotFitItsBudgetStopsBeforeTheFirst()
    {
        var (done, calls) = await RunWithJobBudgetAsync("remaining_forecast_check");

        var error = done["error"]!;
        Assert.Equal(("failed", "budget_exceeded", "draft"), ((string?)done["status"], (string?)error["type"], (string?)error["step_id"]));
        Assert.Equal(0, calls);
        var details = error["details"]!;
        var step = (decimal)details["estimated_step_cost_usd"]!;
        var remaining = (decimal)details["remaining_forecast_usd"]!;
        TestContext.Current.TestOutputHelper?.WriteLine($"budget ${JobBudget}: step forecast ${step}, the two after it ${remaining}");
        Assert.Equal("remaining", (string?)details["budget_check"]);
        Assert.InRange(remaining, 2 * step - 0.0002m, 2 * step + 0.0002m);
        Assert.True(step <= JobBudget && step + remaining > JobBudget, "the step alone fits; with the rest it does not");
        Assert.Contains("budget_check: remaining", (string?)error["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutTheOptionTheSameJobRunsUntilTheStepThatDoesNotFitAndReportsTheRemainingForecast()
    {
        var (done, calls) = await RunWithJobBudgetAsync("remaining_forecast_step");

        var error = done["error"]!;
        Assert.Equal(("failed", "budget_exceeded", "final"), ((string?)done["status"], (string?)error["type"], (string?)error["step_id"]));
        Assert.Equal(2, calls);
        Assert.Equal((0m, "step"), ((decimal)error["details"]!["remaining_forecast_usd"]!, (string?)error["details"]!["budget_check"]));
    }

    /// <summary>Runs one job of <paramref name="workflow"/> with <see cref="JobBudget"/> to its end: the job and the calls it made.</summary>
    private async Task<(JsonObject Job, int Calls)> RunWithJobBudgetAsync(string workflow)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        await using var service = await OneWorkerAsync(llm, workflow, [], ct);
        var marker = $"[{workflow}]";

        var done = await JobPolling.WaitForTerminalAsync(service.Client, await SubmitAsync(service.Client, workflow, marker, JobBudget, ct), JobTimeout, ct);
        return (done, llm.AnsweredContaining(marker));
    }

    [Fact]
    public async Task WithBudgetCheckRemainingTheTenantsBudgetMustHoldTheWholeForecastWhileAStepByStepJobRunsUntilItsThirdStep()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        // $0.006 holds the first step's forecast but not the three steps'; the user u2 has room for all of them.
        await using var service = await OneWorkerAsync(llm, "remaining_forecast_check", new()
        {
            ["Tenants:tests:Budgets:PerUserDailyUsd"] = JobBudget.ToString(CultureInfo.InvariantCulture),
        }, ct);
        var client = service.Client;

        var stopped = await JobPolling.WaitForTerminalAsync(client, await SubmitAsync(client, "remaining_forecast_check", "[u1-first]", null, ct, "u1"), JobTimeout, ct);
        var fitting = await JobPolling.WaitForTerminalAsync(client, await SubmitAsync(client, "remaining_forecast_step", "[u2-each]", null, ct, "u2"), JobTimeout, ct);

        var error = stopped["error"]!;
        Assert.Equal(("budget_exceeded", "draft", "tenant:tests:user:u1:daily"), ((string?)error["type"], (string?)error["step_id"], (string?)error["details"]!["budget"]));
        Assert.True((decimal)error["details"]!["remaining_forecast_usd"]! > 0);
        Assert.Equal(0, llm.AnsweredContaining("[u1-first]"));
        // Checked step by step, u2's job runs two steps ($0.0042) and stops before the third.
        Assert.Equal(("failed", "final"), ((string?)fitting["status"], (string?)fitting["error"]!["step_id"]));
        using var u2 = service.Api.CreateAuthenticatedClient();
        u2.DefaultRequestHeaders.Add("X-User-Id", "u2");
        var report = await u2.GetFromJsonAsync<JsonObject>("/api/v1/usage/budget", ct);
        var perUser = Assert.Single(report!["budgets"]!.AsArray())!;
        Assert.Equal(0m, (decimal)perUser["reserved_usd"]!);
        Assert.InRange((decimal)perUser["spent_usd"]!, 0.003m, 0.005m);
    }

    [Fact]
    public async Task TheApprovalOfAStepOverTheTenantsBudgetShowsTheRemainingForecastBesideTheSteps()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        await using var service = await OneWorkerAsync(llm, "remaining_forecast_approval", new()
        {
            ["Tenants:tests:Budgets:DailyUsd"] = JobBudget.ToString(CultureInfo.InvariantCulture),
        }, ct);

        var waiting = await JobPolling.WaitForStatusAsync(service.Client,
            await SubmitAsync(service.Client, "remaining_forecast_approval", "[ask-first]", null, ct), "waiting", JobTimeout, ct);

        var wait = waiting["waiting_for"]!;
        Assert.Equal(("approval", "budget.draft"), ((string?)wait["kind"], (string?)wait["event"]));
        Assert.Contains("and the llm steps after it $", (string?)wait["prompt"], StringComparison.Ordinal);
        Assert.Contains("which must fit", (string?)wait["prompt"], StringComparison.Ordinal);
        Assert.Empty(llm.Accepted);
    }

    private static async Task<string> SubmitAsync(HttpClient client, string workflow, string question, decimal? budgetUsd, CancellationToken ct, string? userId = null)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = workflow, user_id = userId, budget_usd = budgetUsd, input_data = new { question } }, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["status_url"]!;
    }

    private Task<TenantBudgetPipelineTests.OneWorker> OneWorkerAsync(
        FakeRateLimitedOpenAiServer llm, string name, Dictionary<string, string?> extra, CancellationToken ct) =>
        TenantBudgetPipelineTests.StartOneWorkerAsync(servers, llm, name, extra, ct);
}
