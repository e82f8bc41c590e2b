using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Fakes;

namespace LlmWorkflow.Tests.Llm;

[IntegrationTest]
public sealed class OpenAiCompatibleProviderTests
{
    private const string OpenAiKey = "sk-test-openai-0123456789";
    private const string OpenRouterKey = "sk-or-test-0123456789";

    private static readonly Dictionary<string, string> Keys = new()
    {
        ["OPENAI_API_KEY"] = OpenAiKey,
        ["OPENROUTER_API_KEY"] = OpenRouterKey,
    };

    [Fact]
    public async Task OpenAiRequestCarriesModelMessagesParametersAndBearerKey()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);
        var request = TestGateways.Ask("openai/gpt-4o", "Say hello") with { Temperature = 0.2f, MaxTokens = 50, JsonResponse = true };

        var result = await gateway.CompleteAsync(request, TestContext.Current.CancellationToken);

        var sent = Assert.Single(fake.Requests);
        Assert.Equal("/v1/chat/completions", sent.Path);
        Assert.Equal($"Bearer {OpenAiKey}", sent.Header("Authorization"));
        var body = sent.Json!;
        Assert.Equal("gpt-4o", body["model"]!.GetValue<string>());
        Assert.Equal("system", body["messages"]![0]!["role"]!.GetValue<string>());
        Assert.Equal("Say hello", body["messages"]![1]!["content"]!.GetValue<string>());
        Assert.Equal(0.2f, body["temperature"]!.GetValue<float>());
        Assert.Equal(50, body["max_completion_tokens"]!.GetValue<int>());
        Assert.Equal("json_object", body["response_format"]!["type"]!.GetValue<string>());
        Assert.Equal("Hello from the fake", result.Text);
        Assert.Equal("openai/gpt-4o", result.Model);
    }

    [Fact]
    public async Task UsageAndCostComeFromTheReportedTokensAndThePriceTable()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { PromptTokens = 5000, CompletionTokens = 3000 });
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        var result = await gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), TestContext.Current.CancellationToken);

        Assert.Equal(5000, result.InputTokens);
        Assert.Equal(3000, result.OutputTokens);
        Assert.Equal(8000, result.TotalTokens);
        Assert.Equal(0.0425m, result.CostUsd);
        Assert.Equal(CostSources.PriceTable, result.CostSource);
        Assert.False(result.UsageEstimated);
        Assert.Equal("openai/gpt-4o", Assert.Single(result.Attempts).Model);
    }

    [Fact]
    public async Task OpenRouterSendsAttributionHeadersAsksForUsageAndPrefersItsReportedCost()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { PromptTokens = 24, CompletionTokens = 7, ReportedCost = 0.000190m });
        var provider = new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString(), Referer = "https://app.example.com", Title = "LlmWorkflow tests" };
        var gateway = TestGateways.Create(TestGateways.Options(("openrouter", provider)), Keys);
        var request = TestGateways.Ask("openrouter/anthropic/claude-3.5-sonnet") with { MaxTokens = 100 };

        var result = await gateway.CompleteAsync(request, TestContext.Current.CancellationToken);

        var sent = Assert.Single(fake.Requests);
        Assert.Equal($"Bearer {OpenRouterKey}", sent.Header("Authorization"));
        Assert.Equal("https://app.example.com", sent.Header("HTTP-Referer"));
        Assert.Equal("LlmWorkflow tests", sent.Header("X-Title"));
        Assert.Equal("anthropic/claude-3.5-sonnet", sent.Json!["model"]!.GetValue<string>());
        Assert.True(sent.Json!["usage"]!["include"]!.GetValue<bool>());
        Assert.Equal(100, sent.Json!["max_tokens"]!.GetValue<int>());
        Assert.Equal("openrouter", result.Provider);
        Assert.Equal(0.000190m, result.CostUsd);
        Assert.Equal(CostSources.Provider, result.CostSource);
    }

    [Fact]
    public async Task StreamingForwardsDeltasAndTakesUsageFromTheFinalChunk()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { PromptTokens = 24, CompletionTokens = 7 });
        var gateway = TestGateways.Create(TestGateways.Options(("openrouter", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);
        List<string> deltas = [];

        var result = await gateway.CompleteAsync(
            TestGateways.Ask("openrouter/anthropic/claude-3.5-sonnet", stream: true, onDelta: deltas.Add), TestContext.Current.CancellationToken);

        Assert.Equal(["Hello", " from", " the", " fake"], deltas);
        Assert.Equal("Hello from the fake", result.Text);
        var sent = Assert.Single(fake.Requests).Json!;
        Assert.True(sent["stream"]!.GetValue<bool>());
        Assert.True(sent["stream_options"]!["include_usage"]!.GetValue<bool>());
        Assert.Equal(24, result.InputTokens);
        Assert.Equal(7, result.OutputTokens);
        Assert.False(result.UsageEstimated);
        Assert.Equal(0.000177m, result.CostUsd);
    }

    [Fact]
    public async Task StreamWithoutUsageIsCountedLocallyAndMarkedEstimated()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { IncludeUsage = false, Chunks = ["abcd", "efgh", "ij"] });
        var gateway = TestGateways.Create(TestGateways.Options(("local", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })));

        var result = await gateway.CompleteAsync(TestGateways.Ask("local/llama3.2", "12345678", stream: true), TestContext.Current.CancellationToken);

        Assert.True(result.UsageEstimated);
        Assert.Equal(3, result.OutputTokens);
        Assert.Equal(TokenEstimator.Estimate("You are terse.") + 2, result.InputTokens);
        Assert.Null(result.CostUsd);
        Assert.False(result.Priced);
        Assert.Null(result.CostSource);
    }

    [Fact]
    public async Task NamedCompatibleEndpointNeedsNoKeyAndSendsConfiguredHeaders()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        var provider = new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString(), Headers = { ["X-Route"] = "gpu-pool-2" } };
        var gateway = TestGateways.Create(TestGateways.Options(("ollama", provider)));

        var result = await gateway.CompleteAsync(TestGateways.Ask("ollama/llama3.2:3b"), TestContext.Current.CancellationToken);

        var sent = Assert.Single(fake.Requests);
        Assert.Equal("gpu-pool-2", sent.Header("X-Route"));
        Assert.Equal("llama3.2:3b", sent.Json!["model"]!.GetValue<string>());
        Assert.Equal("ollama", result.Provider);
    }

    [Fact]
    public async Task MissingKeyIsAConfigErrorNamingTheVariableAndMakesNoCall()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        var gateway = TestGateways.Create(TestGateways.Options(("openrouter", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })));

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CompleteAsync(TestGateways.Ask("openrouter/anthropic/claude-3.5-sonnet"), TestContext.Current.CancellationToken))).Error;

        Assert.Equal(ErrorCategory.ConfigError, error.Category);
        Assert.Equal("missing_api_key", error.Type);
        Assert.Contains("OPENROUTER_API_KEY", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, fake.CallCount);
    }
}
