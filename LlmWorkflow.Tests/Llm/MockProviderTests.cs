using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Tests.Llm;

[UnitTest]
public sealed class MockProviderTests
{
    private readonly LlmGateway _gateway = TestGateways.Create(TestGateways.Options());

    [Fact]
    public async Task EchoReturnsTheLastUserMessageAndSaysItIsMock()
    {
        var result = await _gateway.CompleteAsync(TestGateways.Ask("mock/echo", "What is the capital of France?"), TestContext.Current.CancellationToken);

        Assert.Equal("What is the capital of France?", result.Text);
        Assert.Equal("mock", result.Provider);
        Assert.Equal("mock/echo", result.Model);
        Assert.Equal(0m, result.CostUsd);
        Assert.Equal(CostSources.PriceTable, result.CostSource);
        Assert.Equal(TokenEstimator.Estimate("What is the capital of France?"), result.OutputTokens);
        Assert.Equal(TokenEstimator.Estimate("You are terse.") + TokenEstimator.Estimate("What is the capital of France?"), result.InputTokens);
    }

    [Fact]
    public async Task LoremHasTheRequestedTokenCountAndIsDeterministic()
    {
        var first = await _gateway.CompleteAsync(TestGateways.Ask("mock/lorem-50"), TestContext.Current.CancellationToken);
        var second = await _gateway.CompleteAsync(TestGateways.Ask("mock/lorem-50"), TestContext.Current.CancellationToken);

        Assert.Equal(50, first.OutputTokens);
        Assert.Equal(200, first.Text.Length);
        Assert.Equal(first.Text, second.Text);
    }

    [Fact]
    public async Task JsonModelAnswersWithAJsonObjectBuiltFromThePrompt()
    {
        var result = await _gateway.CompleteAsync(TestGateways.Ask("mock/json", "find hospitals near Berlin"), TestContext.Current.CancellationToken);

        var json = Assert.IsType<JsonObject>(JsonNode.Parse(result.Text));
        Assert.Equal("find hospitals near Berlin", json["summary"]!.GetValue<string>());
        Assert.Equal(4, json["word_count"]!.GetValue<int>());
    }

    [Fact]
    public async Task CannedResponsesFromConfigurationWinPerWorkflowAndStep()
    {
        var options = TestGateways.Options();
        options.Mock.Responses["emergency_contacts"] = new() { ["generate_analysis"] = """{"contacts":[]}""" };
        var gateway = TestGateways.Create(options);
        var request = TestGateways.Ask("mock/echo") with { WorkflowName = "emergency_contacts", StepId = "generate_analysis" };

        var result = await gateway.CompleteAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal("""{"contacts":[]}""", result.Text);
    }

    [Fact]
    public async Task ServeAllModelsAnswersRealModelIdsOfflineAndBillsThemAsMock()
    {
        var options = TestGateways.Options();
        options.Mock.ServeAllModels = true;
        var gateway = TestGateways.Create(options);

        var result = await gateway.CompleteAsync(TestGateways.Ask("openrouter/anthropic/claude-3.5-sonnet", "hi"), TestContext.Current.CancellationToken);

        Assert.Equal("mock", result.Provider);
        Assert.Equal("mock/openrouter/anthropic/claude-3.5-sonnet", result.Model);
        Assert.Equal(0m, result.CostUsd);
        Assert.Contains("hi", result.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamingDeliversChunksThatAddUpToTheAnswer()
    {
        List<string> deltas = [];
        var result = await _gateway.CompleteAsync(
            TestGateways.Ask("mock/lorem-40", stream: true, onDelta: deltas.Add), TestContext.Current.CancellationToken);

        Assert.True(deltas.Count > 1);
        Assert.Equal(result.Text, string.Concat(deltas));
        Assert.Equal(40, result.OutputTokens);
        Assert.False(result.UsageEstimated);
    }

    [Fact]
    public async Task ConfiguredLatencyIsApplied()
    {
        var options = TestGateways.Options();
        options.Mock.LatencyMs = 150;
        var gateway = TestGateways.Create(options);

        var result = await gateway.CompleteAsync(TestGateways.Ask("mock/echo"), TestContext.Current.CancellationToken);

        Assert.InRange(result.DurationMs, 140, 5_000);
    }

    [Fact]
    public async Task JsonResponseRequestedFromAnUnknownMockModelIsJson()
    {
        var request = new LlmCallRequest(["mock/anything"], [new ChatMessage(ChatRole.User, "list three colours")], JsonResponse: true);

        var result = await _gateway.CompleteAsync(request, TestContext.Current.CancellationToken);

        Assert.IsType<JsonObject>(JsonNode.Parse(result.Text));
    }

    [Fact]
    public async Task CannedResponsesComeFromTheWorkflowsFile()
    {
        var directory = Directory.CreateTempSubdirectory("mock-responses-");
        try
        {
            await File.WriteAllTextAsync(
                Path.Combine(directory.FullName, "trip_planner.json"),
                """{"summarize": "A short trip.", "plan": {"days": 2}}""",
                TestContext.Current.CancellationToken);
            var options = TestGateways.Options();
            options.Mock.ResponsesDirectory = directory.FullName;
            var gateway = TestGateways.Create(options);

            var text = await gateway.CompleteAsync(
                TestGateways.Ask("mock/echo") with { WorkflowName = "trip_planner", StepId = "summarize" }, TestContext.Current.CancellationToken);
            var json = await gateway.CompleteAsync(
                TestGateways.Ask("mock/echo") with { WorkflowName = "trip_planner", StepId = "plan" }, TestContext.Current.CancellationToken);
            var otherStep = await gateway.CompleteAsync(
                TestGateways.Ask("mock/echo", "fallback") with { WorkflowName = "trip_planner", StepId = "other" }, TestContext.Current.CancellationToken);

            Assert.Equal("A short trip.", text.Text);
            Assert.Equal("""{"days": 2}""", json.Text);
            Assert.Equal("fallback", otherStep.Text);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task UsageRecordSaysTheCallWasServedByMock()
    {
        var result = await _gateway.CompleteAsync(TestGateways.Ask("mock/echo", "ping"), TestContext.Current.CancellationToken);

        var usage = LlmUsageRecord.From(result);

        Assert.Equal(("mock", "mock/echo", 0m, true), (usage.Provider, usage.Model, usage.CostUsd, usage.Priced));
        Assert.Equal(usage.InputTokens + usage.OutputTokens, usage.TotalTokens);
    }
}
