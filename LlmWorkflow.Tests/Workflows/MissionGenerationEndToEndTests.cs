using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Workflows;

/// <summary>
/// mission_generation through the API and a Worker on real Postgres + Redis, with the plan streamed by a fake
/// OpenAI-compatible server (as OpenRouter) and the result delivered to a webhook receiver the way document 002's
/// handler reads it.
/// </summary>
[IntegrationTest]
public sealed class MissionGenerationEndToEndTests(TestServers servers) : IAsyncLifetime
{
    private const int PromptTokens = 3412;
    private const int CompletionTokens = 1875;
    private const string WebhookSecret = "mission-webhook-secret";

    private static readonly string Plan = ExampleFiles.MockAnswer("mission_generation", "generate_mission_plan");

    private FakeOpenAiServer _llm = null!;
    private FakeEchoServer _receiver = null!;
    private WorkflowStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        _llm = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions
        {
            Chunks = [.. Chunk(Plan, 80)],
            PromptTokens = PromptTokens,
            CompletionTokens = CompletionTokens,
        });
        _receiver = await FakeEchoServer.StartAsync();
        var settings = WorkflowStack.BaseSettings();
        settings["Llm:Providers:openrouter:BaseUrl"] = _llm.ApiUrl.ToString();
        settings["Llm:Providers:openrouter:ApiKey"] = "test-openrouter-key";
        settings["Webhooks:AllowPrivateNetworks"] = "true";
        settings["Webhooks:PollInterval"] = "00:00:00.100";
        _stack = await WorkflowStack.StartAsync(servers, nameof(MissionGenerationEndToEndTests), settings);
    }

    public async ValueTask DisposeAsync()
    {
        await _stack.DisposeAsync();
        await _receiver.DisposeAsync();
        await _llm.DisposeAsync();
    }

    [Fact]
    public async Task StreamsThePlanParsesSectionsReportsUsageAndCallsTheWebhook()
    {
        var ct = TestContext.Current.CancellationToken;

        var status = await _stack.RunAsync("mission_generation", ExampleFiles.Example("mission_generation"), ct, new
        {
            user_id = "user-42",
            username = "ada",
            action = "generate mission report",
            webhook_url = new Uri(_receiver.BaseUrl, "api/webhooks/llm-callback").ToString(),
            webhook_secret = WebhookSecret,
        });

        Assert.True((string?)status["status"] == "completed", status.ToJsonString());
        var output = status["result"]!["output"]!.AsObject();
        Assert.Equal(Plan, (string?)output["mission_plan"]);
        var sections = output["parsed_sections"]!.AsObject();
        // The stored result is jsonb, which does not keep key order.
        Assert.Equal(["day_by_day", "executive_summary", "next_steps", "recommended_bundles", "risk_assessment", "survival_skills"], sections.Select(s => s.Key).Order(StringComparer.Ordinal));
        Assert.StartsWith("This plan prepares a family of four", (string?)sections["executive_summary"], StringComparison.Ordinal);
        Assert.StartsWith("- **Overall Risk:** High", (string?)sections["risk_assessment"], StringComparison.Ordinal);
        Assert.Contains("(bndl-72h-family)", (string?)sections["recommended_bundles"], StringComparison.Ordinal);
        Assert.StartsWith("### Day 1\n", ((string?)sections["day_by_day"])!.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.EndsWith("6. Sign up for AlertSF by texting your ZIP code to 888-777.", (string?)sections["next_steps"], StringComparison.Ordinal);

        var expectedCost = Math.Round((PromptTokens * 3m + CompletionTokens * 15m) / 1_000_000m, 6);
        var usage = output["llm_usage"]!;
        Assert.Equal("openrouter", (string?)usage["provider"]);
        Assert.Contains("anthropic/claude-3.5-sonnet", (string?)usage["model"], StringComparison.Ordinal);
        Assert.Equal(PromptTokens, usage["input_tokens"]!.GetValue<int>());
        Assert.Equal(CompletionTokens, usage["output_tokens"]!.GetValue<int>());
        Assert.Equal(PromptTokens + CompletionTokens, usage["total_tokens"]!.GetValue<int>());
        Assert.Equal(expectedCost, usage["cost_usd"]!.GetValue<decimal>());
        Assert.Equal(expectedCost, status["result"]!["cost_data"]!["cost_usd"]!.GetValue<decimal>());
        AssertOneModelBreakdown(status["result"]!["cost_data"]!, expectedCost);

        // The request: streamed, system prompt from the prompt library, user message built by the transforms.
        var call = Assert.Single(_llm.Requests).Json!;
        Assert.True(call["stream"]!.GetValue<bool>());
        Assert.Contains("mission planner", (string?)call["messages"]![0]!["content"], StringComparison.Ordinal);
        var user = (string)call["messages"]![1]!["content"]!;
        Assert.Contains("- **Location:** San Francisco, CA\n", user, StringComparison.Ordinal);
        Assert.Contains("## Scenarios\n\n- earthquake\n- wildfire\n", user, StringComparison.Ordinal);
        Assert.Contains("- **Budget:** Standard (USD 500)", user, StringComparison.Ordinal);
        Assert.Contains("### 72-Hour Family Survival Kit\n- **Bundle ID:** bndl-72h-family\n- **Price:** USD 249\n- **Items:** 42\n- **Scenarios:** [\"earthquake\",\"hurricane\",\"power_outage\"]", user, StringComparison.Ordinal);
        Assert.Contains("### Winter Warmth Bundle", user, StringComparison.Ordinal);
        Assert.Contains("## Output format", user, StringComparison.Ordinal);

        // Progress: the six display names in order, and the streamed text as llm_delta events.
        var events = await _stack.EventsAsync((string)status["job_id"]!, ct);
        Assert.Equal(
            ["Formatting Bundles", "Joining Bundles", "Building Scenario List", "Building User Message", "Generating Mission Plan", "Parsing Sections"],
            events.Where(e => e.Type == "step_started").Select(e => (string?)e.Data["display_name"]));
        var deltas = events.Where(e => e.Type == "llm_delta").ToList();
        Assert.True(deltas.Count > 10, $"only {deltas.Count} deltas");
        Assert.All(deltas, d => Assert.Equal("generate_mission_plan", (string?)d.Data["step_id"]));
        Assert.Equal(Plan, string.Concat(deltas.Select(d => (string?)d.Data["text"])));
        Assert.Equal("run_completed", events[^1].Type);

        // The webhook carries what the main app's handleMissionGenerationComplete reads, signed with the job's secret.
        var delivery = await WaitForWebhookAsync(ct);
        Assert.Equal("/api/webhooks/llm-callback", delivery.Path);
        Assert.Equal("workflow.completed", delivery.Header("X-Webhook-Event"));
        var expectedSignature = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(WebhookSecret), Encoding.UTF8.GetBytes(delivery.Body)));
        Assert.Equal(expectedSignature, delivery.Header("X-Webhook-Signature"));
        var payload = delivery.Json!;
        Assert.Equal("workflow.completed", (string?)payload["event"]);
        Assert.Equal((string?)status["job_id"], (string?)payload["job_id"]);
        Assert.Equal("user-42", (string?)payload["user_id"]);
        var result = payload["result"]!;
        Assert.Equal(Plan, (string?)result["output"]!["mission_plan"]);
        Assert.Equal((string?)sections["survival_skills"], (string?)result["output"]!["parsed_sections"]!["survival_skills"]);
        Assert.Equal("openrouter/anthropic/claude-3.5-sonnet", (string?)result["output"]!["llm_usage"]!["model"]);
        Assert.Equal(PromptTokens + CompletionTokens, result["output"]!["llm_usage"]!["total_tokens"]!.GetValue<int>());
        Assert.Equal(expectedCost, result["cost_data"]!["cost_usd"]!.GetValue<decimal>());
        AssertOneModelBreakdown(result["cost_data"]!, expectedCost);
        Assert.Equal("generate mission report", (string?)payload["metadata"]!["action"]);
    }

    /// <summary>cost_data.models: the one model the job used, with the same totals as cost_data.</summary>
    private static void AssertOneModelBreakdown(JsonNode costData, decimal expectedCost)
    {
        var model = Assert.Single(costData["models"]!.AsArray())!;
        Assert.Equal("openrouter", (string?)model["provider"]);
        Assert.Equal("openrouter/anthropic/claude-3.5-sonnet", (string?)model["model"]);
        Assert.Equal(1, (int?)model["calls"]);
        Assert.Equal(PromptTokens, (int?)model["input_tokens"]);
        Assert.Equal(CompletionTokens, (int?)model["output_tokens"]);
        Assert.Equal(expectedCost, (decimal?)model["cost_usd"]);
        Assert.False((bool?)model["unpriced"]);
    }

    private async Task<RecordedRequest> WaitForWebhookAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_receiver.Requests.Count > 0)
            {
                return Assert.Single(_receiver.Requests);
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException("No webhook was delivered within 30 s.");
    }

    /// <summary>Splits text into chunks of about <paramref name="size"/> characters, as a streaming model sends it.</summary>
    private static IEnumerable<string> Chunk(string text, int size)
    {
        for (var i = 0; i < text.Length; i += size)
        {
            yield return text.Substring(i, Math.Min(size, text.Length - i));
        }
    }
}
