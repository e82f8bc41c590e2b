using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Fakes;

namespace LlmWorkflow.Tests.Llm;

[IntegrationTest]
public sealed class AnthropicProviderTests
{
    private const string Key = "sk-ant-test-0123456789";
    private static readonly Dictionary<string, string> Keys = new() { ["ANTHROPIC_API_KEY"] = Key };

    [Fact]
    public async Task MessagesRequestCarriesKeyVersionModelAndUsageIsPriced()
    {
        await using var fake = await FakeAnthropicServer.StartAsync(new FakeAnthropicOptions { InputTokens = 1000, OutputTokens = 1000 });
        var gateway = TestGateways.Create(TestGateways.Options(("anthropic", new LlmProviderOptions { BaseUrl = fake.BaseUrl.ToString() })), Keys);
        var request = TestGateways.Ask("anthropic/claude-3-5-sonnet-20241022", "Say hello") with { MaxTokens = 300, Temperature = 0.5f };

        var result = await gateway.CompleteAsync(request, TestContext.Current.CancellationToken);

        var sent = Assert.Single(fake.Requests);
        Assert.Equal("/v1/messages", sent.Path);
        Assert.Equal(Key, sent.Header("x-api-key"));
        Assert.False(string.IsNullOrEmpty(sent.Header("anthropic-version")));
        var body = sent.Json!;
        Assert.Equal("claude-3-5-sonnet-20241022", body["model"]!.GetValue<string>());
        Assert.Equal(300, body["max_tokens"]!.GetValue<int>());
        Assert.Contains("You are terse.", body["system"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("user", body["messages"]![0]!["role"]!.GetValue<string>());
        Assert.Equal("Hello from Claude", result.Text);
        Assert.Equal("anthropic", result.Provider);
        Assert.Equal((1000, 1000), (result.InputTokens, result.OutputTokens));
        Assert.Equal(0.018m, result.CostUsd);
    }

    [Fact]
    public async Task StreamingForwardsTextDeltasAndUsage()
    {
        await using var fake = await FakeAnthropicServer.StartAsync(new FakeAnthropicOptions { InputTokens = 24, OutputTokens = 7 });
        var gateway = TestGateways.Create(TestGateways.Options(("anthropic", new LlmProviderOptions { BaseUrl = fake.BaseUrl.ToString() })), Keys);
        List<string> deltas = [];

        var result = await gateway.CompleteAsync(
            TestGateways.Ask("anthropic/claude-3-5-sonnet-20241022", stream: true, onDelta: deltas.Add), TestContext.Current.CancellationToken);

        Assert.Equal(["Hello", " from", " Claude"], deltas);
        Assert.Equal("Hello from Claude", result.Text);
        Assert.Equal(24, result.InputTokens);
        Assert.Equal(7, result.OutputTokens);
        Assert.Equal(0.000177m, result.CostUsd);
    }

    [Fact]
    public async Task OverloadedIsRetriedAndInvalidKeyIsAConfigError()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.EnqueueError(529, "Overloaded");
        fake.EnqueueError(401, "invalid x-api-key");
        var gateway = TestGateways.Create(TestGateways.Options(("anthropic", new LlmProviderOptions { BaseUrl = fake.BaseUrl.ToString() })), Keys);

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CompleteAsync(TestGateways.Ask("anthropic/claude-sonnet-4-5"), TestContext.Current.CancellationToken))).Error;

        Assert.Equal(2, fake.CallCount);
        Assert.Equal(ErrorCategory.ConfigError, error.Category);
        Assert.Equal("invalid_api_key", error.Type);
        Assert.Contains("ANTHROPIC_API_KEY", string.Join(" ", error.Suggestions), StringComparison.Ordinal);
    }
}
