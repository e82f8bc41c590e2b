using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Fakes;

namespace LlmWorkflow.Tests.Llm;

/// <summary>
/// The gateway's flex tier against the in-process fakes: what is sent and billed, streaming included, and providers
/// without flex (Anthropic, the mock, an OpenAI-compatible server) running the call at standard and saying so.
/// </summary>
[IntegrationTest]
public sealed class FlexTierGatewayTests
{
    private const string Key = "sk-test-openai-0123456789";
    private static readonly Dictionary<string, string> Keys = new() { ["OPENAI_API_KEY"] = Key, ["ANTHROPIC_API_KEY"] = Key, ["LOCAL_API_KEY"] = Key };
    private static readonly ServiceTierRequest Flex = new(ServiceTiers.Flex);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AFlexCallSendsServiceTierFlexAndIsBilledAtHalfTheListPrice(bool stream)
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { PromptTokens = 10_000, CompletionTokens = 1_000 });
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        var result = await gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o-mini", stream: stream) with { ServiceTier = Flex }, TestContext.Current.CancellationToken);

        Assert.Equal("flex", FakeOpenAiServer.ServiceTierOf(Assert.Single(fake.Requests)));
        // 10,000 × $0.15 + 1,000 × $0.60 per million = $0.0021 list; flex half.
        Assert.Equal((ServiceTiers.Flex, "flex", 0.0021m, 0.00105m, 0.00105m), (result.ServiceTier, result.RequestedServiceTier, result.ListCostUsd, result.CostUsd, result.DiscountUsd));
    }

    [Fact]
    public async Task AStandardCallSendsNoTierAndIsBilledAtTheListPrice()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { PromptTokens = 10_000, CompletionTokens = 1_000 });
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        var result = await gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o-mini"), TestContext.Current.CancellationToken);

        Assert.Null(FakeOpenAiServer.ServiceTierOf(Assert.Single(fake.Requests)));
        Assert.Equal((ServiceTiers.Standard, (string?)null, 0.0021m, 0.0021m), (result.ServiceTier, result.RequestedServiceTier, result.ListCostUsd, result.CostUsd));
    }

    [Fact]
    public async Task ARefusedFlexCallWithoutDeadlineIsSentOnceMoreAtStandardAndNotRetriedAsARateLimit()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { PromptTokens = 10_000, CompletionTokens = 1_000 });
        fake.RefuseFlex(5);
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        var result = await gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o-mini") with { ServiceTier = Flex }, TestContext.Current.CancellationToken);

        // MaxAttempts is 3 here: a rate_limited 429 would have been retried at flex; a flex refusal is not.
        Assert.Equal(["flex", null], fake.Requests.Select(FakeOpenAiServer.ServiceTierOf));
        Assert.Equal((ServiceTiers.Standard, "flex", 0.0021m, 0m), (result.ServiceTier, result.RequestedServiceTier, result.CostUsd, result.DiscountUsd));
    }

    [Fact]
    public async Task AModelWithoutFlexRefusingTheTierWith400IsAskedAgainAtStandardAndBilledAtTheListPrice()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { PromptTokens = 10_000, CompletionTokens = 1_000 });
        // OpenAI's (and Azure's) answer to a flex request for a model without flex: a 400 naming the parameter.
        fake.Enqueue(new FakeResponse(400, """{"error":{"message":"Invalid service_tier argument: flex is not available for this model.","type":"invalid_request_error","param":"service_tier","code":null}}"""));
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        var result = await gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o-mini") with { ServiceTier = Flex }, TestContext.Current.CancellationToken);

        Assert.Equal(["flex", null], fake.Requests.Select(FakeOpenAiServer.ServiceTierOf));
        Assert.Equal((ServiceTiers.Standard, "flex", 0.0021m, 0m), (result.ServiceTier, result.RequestedServiceTier, result.CostUsd, result.DiscountUsd));
    }

    [Fact]
    public async Task AKeyRateLimitOnAFlexCallStaysARateLimit()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.Enqueue(new FakeResponse(429, """{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"""));
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        var result = await gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o-mini") with { ServiceTier = Flex }, TestContext.Current.CancellationToken);

        // Retried as a rate limit (the retry policy), still at flex: no fallback for the key's own limit.
        Assert.Equal(["flex", "flex"], fake.Requests.Select(FakeOpenAiServer.ServiceTierOf));
        Assert.Equal(ServiceTiers.Flex, result.ServiceTier);
    }

    [Fact]
    public async Task WithADeadlineFarAwayARefusedFlexCallIsAskedAgainAtFlex()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.RefuseFlex(2);
        var options = TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() }));
        options.Flex.RetryBaseDelay = TimeSpan.FromMilliseconds(20);
        var gateway = TestGateways.Create(options, Keys);
        var request = TestGateways.Ask("openai/gpt-4o-mini") with { ServiceTier = Flex with { Deadline = DateTimeOffset.UtcNow.AddHours(2) } };

        var result = await gateway.CompleteAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(["flex", "flex", "flex"], fake.Requests.Select(FakeOpenAiServer.ServiceTierOf));
        Assert.Equal(ServiceTiers.Flex, result.ServiceTier);
    }

    [Fact]
    public async Task AnOpenAiCompatibleServerGetsNoTierUnlessItsProviderSaysFlexTier()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        var gateway = TestGateways.Create(TestGateways.Options(
            ("local", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() }),
            ("proxy", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString(), FlexTier = true })), Keys);

        var local = await gateway.CompleteAsync(TestGateways.Ask("local/gpt-4o-mini") with { ServiceTier = Flex }, TestContext.Current.CancellationToken);
        var proxy = await gateway.CompleteAsync(TestGateways.Ask("proxy/gpt-4o-mini") with { ServiceTier = Flex }, TestContext.Current.CancellationToken);

        Assert.Equal([null, "flex"], fake.Requests.Select(FakeOpenAiServer.ServiceTierOf));
        Assert.Equal((ServiceTiers.Standard, "flex"), (local.ServiceTier, local.RequestedServiceTier));
        Assert.Equal(ServiceTiers.Flex, proxy.ServiceTier);
    }

    [Fact]
    public async Task AnthropicAndTheMockRunAFlexCallAtStandardAndSaySo()
    {
        await using var fake = await FakeAnthropicServer.StartAsync(new FakeAnthropicOptions { InputTokens = 1000, OutputTokens = 1000 });
        var gateway = TestGateways.Create(TestGateways.Options(("anthropic", new LlmProviderOptions { BaseUrl = fake.BaseUrl.ToString() })), Keys);

        var claude = await gateway.CompleteAsync(
            TestGateways.Ask("anthropic/claude-3-5-sonnet-20241022") with { MaxTokens = 300, ServiceTier = Flex }, TestContext.Current.CancellationToken);
        var mock = await gateway.CompleteAsync(TestGateways.Ask("mock/echo") with { ServiceTier = Flex }, TestContext.Current.CancellationToken);

        Assert.DoesNotContain("service_tier", Assert.Single(fake.Requests).Body, StringComparison.Ordinal);
        Assert.Equal((ServiceTiers.Standard, "flex", 0.018m, 0.018m), (claude.ServiceTier, claude.RequestedServiceTier, claude.CostUsd, claude.ListCostUsd));
        Assert.Equal((ServiceTiers.Standard, "flex"), (mock.ServiceTier, mock.RequestedServiceTier));
    }
}
