using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Flex jobs end to end (API, PostgreSQL, Redis, a worker, the fake OpenAI server): the tier and deadline travel from
/// the submission to the call, the cost is the tier's, a refused flex call falls back (or is asked again before a far
/// deadline) without touching the admission budget, and a provider without flex runs the job at standard.
/// </summary>
[IntegrationTest]
public sealed class FlexTierPipelineTests(TestServers servers)
{
    // The fake reports 10,000 input and 1,000 output tokens: gpt-4o-mini's list price is $0.0021, flex's $0.00105.
    private const decimal ListCost = 0.0021m;
    private const decimal FlexCost = 0.00105m;
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AFlexJobCompletesAtHalfTheListPriceAndItsCallAskedForFlex()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await StartAsync(nameof(AFlexJobCompletesAtHalfTheListPriceAndItsCallAskedForFlex), _ => { }, ct);

        var done = await RunAsync(pipeline, new { service_tier = "flex" }, ct);

        Assert.Equal("flex", FakeOpenAiServer.ServiceTierOf(Assert.Single(pipeline.Llm.Requests)));
        Assert.Equal(("flex", (string?)null), ((string?)done["service_tier"], (string?)done["deadline"]));
        var costData = done["result"]!["cost_data"]!;
        Assert.Equal((FlexCost, ListCost, FlexCost, "flex"),
            ((decimal)costData["cost_usd"]!, (decimal)costData["list_cost_usd"]!, (decimal)costData["discount_usd"]!, (string?)costData["requested_service_tier"]));
        Assert.Equal(FlexCost, (decimal)done["metadata"]!["total_cost_usd"]!);
        AssertUsage(done, "flex", ListCost, FlexCost);
    }

    [Fact]
    public async Task ARefusedFlexCallWithoutDeadlineFallsBackToStandardOnceAndLeavesTheAdmissionBudgetAlone()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await StartAsync(nameof(ARefusedFlexCallWithoutDeadlineFallsBackToStandardOnceAndLeavesTheAdmissionBudgetAlone),
            llm => llm.RefuseFlex(1), ct, new Dictionary<string, string?> { ["Llm:Limits:openai:RequestsPerMinute"] = "100" });

        var done = await RunAsync(pipeline, new { service_tier = "flex" }, ct);

        Assert.Equal(["flex", null], pipeline.Llm.Requests.Select(FakeOpenAiServer.ServiceTierOf));
        Assert.Equal(ListCost, (decimal)done["result"]!["cost_data"]!["cost_usd"]!);
        AssertUsage(done, "standard", ListCost, 0m);
        // A rate-limit 429 would have blocked the scope for its retry-after and parked the step; flex's refusal did neither.
        using var admin = pipeline.Api.CreateAuthenticatedClient(admin: true);
        var limits = await admin.GetFromJsonAsync<JsonObject>("/api/v1/providers/limits", ct);
        var openai = limits!["scopes"]!.AsArray().Single(s => (string?)s!["scope"] == "openai")!;
        Assert.Equal(0L, (long)openai["blocked_for_ms"]!);
    }

    [Fact]
    public async Task WithADeadlineFarAwayARefusedFlexCallIsAskedAgainAtFlex()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await StartAsync(nameof(WithADeadlineFarAwayARefusedFlexCallIsAskedAgainAtFlex),
            llm => llm.RefuseFlex(2), ct, new Dictionary<string, string?> { ["Llm:Flex:RetryBaseDelay"] = "00:00:00.050" });
        var deadline = DateTimeOffset.UtcNow.AddHours(2);

        var done = await RunAsync(pipeline, new { deadline = deadline.ToString("yyyy-MM-ddTHH:mm:ssZ") }, ct);

        Assert.Equal(["flex", "flex", "flex"], pipeline.Llm.Requests.Select(FakeOpenAiServer.ServiceTierOf));
        Assert.Equal("flex", (string?)done["service_tier"]);
        Assert.Equal(deadline.ToUnixTimeSeconds(), DateTimeOffset.Parse((string)done["deadline"]!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds());
        AssertUsage(done, "flex", ListCost, FlexCost);
    }

    [Fact]
    public async Task AProviderWithoutFlexRunsAFlexJobAtStandardAndSaysSo()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await StartAsync(nameof(AProviderWithoutFlexRunsAFlexJobAtStandardAndSaysSo), _ => { }, ct,
            new Dictionary<string, string?> { ["Llm:Providers:openai:FlexTier"] = "false" });

        var done = await RunAsync(pipeline, new { service_tier = "flex" }, ct);

        Assert.Null(FakeOpenAiServer.ServiceTierOf(Assert.Single(pipeline.Llm.Requests)));
        AssertUsage(done, "standard", ListCost, 0m);
        Assert.Equal(0m, (decimal)done["result"]!["cost_data"]!["discount_usd"]!);
    }

    [Fact]
    public async Task AStandardJobSaysStandardAndItsCostDataHasNoTierMembers()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await StartAsync(nameof(AStandardJobSaysStandardAndItsCostDataHasNoTierMembers), _ => { }, ct);

        var done = await RunAsync(pipeline, new { }, ct);

        Assert.Null(FakeOpenAiServer.ServiceTierOf(Assert.Single(pipeline.Llm.Requests)));
        Assert.Equal("standard", (string?)done["service_tier"]);
        Assert.False(done["result"]!["cost_data"]!.AsObject().ContainsKey("list_cost_usd"));
        Assert.Equal(ListCost, (decimal)done["result"]!["cost_data"]!["cost_usd"]!);
    }

    [Fact]
    public async Task ABadTierOrDeadlineIsA400NamingTheField()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(ABadTierOrDeadlineIsA400NamingTheField));
        await using var api = new ApiFactory(environment.Settings(new Dictionary<string, string?> { ["Workflows:Root"] = PipelineTestWorkflows.Root }));
        using var client = api.CreateAuthenticatedClient();
        (string Fields, string Field, string Says)[] cases =
        [
            ("""{"service_tier": "cheap"}""", "service_tier", "\"standard\", \"flex\", \"batch\""),
            ("""{"service_tier": "flex", "deadline": "2020-01-01T00:00:00Z"}""", "deadline", "in the past"),
            ("""{"deadline": "next tuesday"}""", "deadline", "RFC 3339"),
            ("""{"deadline": "2099-01-01T00:00:00"}""", "deadline", "RFC 3339"),
            ("""{"service_tier": "standard", "deadline": "2099-01-01T00:00:00Z"}""", "deadline", "flex and batch tiers"),
        ];

        await TierSubmissions.AssertRefusedAsync(client, cases, ct);
    }

    private Task<LlmPipeline> StartAsync(string name, Action<FakeOpenAiServer> script, CancellationToken ct, Dictionary<string, string?>? extra = null) =>
        LlmPipeline.StartAsync(servers, name, llm =>
        {
            llm.Options = llm.Options with { PromptTokens = 10_000, CompletionTokens = 1_000 };
            script(llm);
        }, ct, extra);

    private static async Task<JsonObject> RunAsync(LlmPipeline pipeline, object tier, CancellationToken ct)
    {
        var body = System.Text.Json.JsonSerializer.SerializeToNode(tier)!.AsObject();
        body["workflow_name"] = "one_llm_step";
        body["input_data"] = new JsonObject { ["question"] = "why is the sky blue?" };
        using var response = await pipeline.Client.PostAsJsonAsync("/api/v1/workflow", body, ct);
        var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, accepted?.ToJsonString());
        var done = await JobPolling.WaitForTerminalAsync(pipeline.Client, (string)accepted!["status_url"]!, JobTimeout, ct);
        Assert.True((string?)done["status"] == "completed", done.ToJsonString());
        return done;
    }

    private static void AssertUsage(JsonObject done, string tier, decimal list, decimal discount) =>
        TierSubmissions.AssertUsage(done, tier, "flex", list, discount);
}
