using System.Diagnostics;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Fakes;

namespace LlmWorkflow.Tests.Llm;

[IntegrationTest]
public sealed class LlmGatewayResilienceTests
{
    private const string Key = "sk-test-openai-0123456789";
    private static readonly Dictionary<string, string> Keys = new() { ["OPENAI_API_KEY"] = Key, ["OPENROUTER_API_KEY"] = Key };

    [Fact]
    public async Task RateLimitedCallIsRetriedAfterTheProvidersRetryAfter()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.EnqueueError(429, "slow down", retryAfter: TimeSpan.FromSeconds(1));
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        var result = await gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), TestContext.Current.CancellationToken);

        Assert.Equal("Hello from the fake", result.Text);
        Assert.Equal(2, fake.CallCount);
        var gap = Stopwatch.GetElapsedTime(fake.Requests[0].Timestamp, fake.Requests[1].Timestamp);
        Assert.InRange(gap, TimeSpan.FromMilliseconds(950), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task ServerErrorsAreRetriedWithBackoffUntilMaxAttempts()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            fake.EnqueueError(503, "overloaded");
        }

        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), TestContext.Current.CancellationToken))).Error;

        Assert.Equal(3, fake.CallCount);
        Assert.Equal(ErrorCategory.ExternalError, error.Category);
        Assert.True(error.Retryable);
        // Exponential: 20 ms, then 40 ms between attempts.
        var requests = fake.Requests;
        Assert.True(Stopwatch.GetElapsedTime(requests[1].Timestamp, requests[2].Timestamp) >= TimeSpan.FromMilliseconds(35));
    }

    [Theory]
    [InlineData(400, ErrorCategory.ConfigError, "bad_request", false, 1)]
    [InlineData(401, ErrorCategory.ConfigError, "invalid_api_key", false, 1)]
    [InlineData(403, ErrorCategory.ConfigError, "invalid_api_key", false, 1)]
    [InlineData(404, ErrorCategory.ConfigError, "model_not_found", false, 1)]
    [InlineData(429, ErrorCategory.ExternalError, "rate_limited", true, 3)]
    [InlineData(500, ErrorCategory.ExternalError, "provider_unavailable", true, 3)]
    public async Task ErrorsAreClassifiedAndOnlyRetryableOnesRetried(int status, ErrorCategory category, string type, bool retryable, int calls)
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            fake.EnqueueError(status, $"failure {status} for key {Key}");
        }

        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), TestContext.Current.CancellationToken))).Error;

        Assert.Equal(category, error.Category);
        Assert.Equal(type, error.Type);
        Assert.Equal(retryable, error.Retryable);
        Assert.Equal(calls, fake.CallCount);
        Assert.Equal(status, error.Details!["http_status"]!.GetValue<int>());
        Assert.DoesNotContain(Key, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, error.Details!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PromptTooLongIsAUserError()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.EnqueueError(400, "This model's maximum context length is 8192 tokens.");
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), TestContext.Current.CancellationToken))).Error;

        Assert.Equal(ErrorCategory.UserError, error.Category);
        Assert.Equal("prompt_too_long", error.Type);
    }

    [Fact]
    public async Task AttemptTimeoutIsARetryableTimeout()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.Enqueue(FakeResponse.Hanging());
        fake.Enqueue(FakeResponse.Hanging());
        var options = TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() }));
        options.AttemptTimeout = TimeSpan.FromMilliseconds(300);
        options.Retry.MaxAttempts = 2;
        var gateway = TestGateways.Create(options, Keys);

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), TestContext.Current.CancellationToken))).Error;

        Assert.Equal("timeout", error.Type);
        Assert.Equal(ErrorCategory.ExternalError, error.Category);
        Assert.True(error.Retryable);
        Assert.Equal(2, fake.CallCount);
        await fake.RequestAborted.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task ConnectionRefusedIsARetryableConnectionError()
    {
        // A port that was just free: nothing listens there.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = $"http://127.0.0.1:{port}/v1" })), Keys);

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), TestContext.Current.CancellationToken))).Error;

        Assert.Equal("connection_error", error.Type);
        Assert.True(error.Retryable);
    }

    [Fact]
    public async Task FallbackChainIsWalkedInOrderAndRecordsWhyEachModelFailed()
    {
        await using var primary = await FakeOpenAiServer.StartAsync();
        await using var secondary = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { Chunks = ["from the secondary"] });
        primary.EnqueueError(401, "invalid key");
        var gateway = TestGateways.Create(
            TestGateways.Options(
                ("openrouter", new LlmProviderOptions { BaseUrl = primary.ApiUrl.ToString() }),
                ("openai", new LlmProviderOptions { BaseUrl = secondary.ApiUrl.ToString() })),
            Keys);
        var request = TestGateways.Ask("unused") with
        {
            Models = ["anthropic/claude-3-5-sonnet-20241022", "openrouter/anthropic/claude-3.5-sonnet", "openai/gpt-4o"],
        };

        var result = await gateway.CompleteAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal("from the secondary", result.Text);
        Assert.Equal("openai/gpt-4o", result.Model);
        Assert.Equal(["anthropic/claude-3-5-sonnet-20241022", "openrouter/anthropic/claude-3.5-sonnet", "openai/gpt-4o"], result.Attempts.Select(a => a.Model));
        Assert.StartsWith("missing_api_key", result.Attempts[0].Error, StringComparison.Ordinal);
        Assert.StartsWith("invalid_api_key", result.Attempts[1].Error, StringComparison.Ordinal);
        Assert.Null(result.Attempts[2].Error);
        Assert.Equal(1, primary.CallCount);
        Assert.Equal(1, secondary.CallCount);
    }

    [Fact]
    public async Task WhenEveryModelFailsTheErrorListsTheAttempts()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.EnqueueError(404, "no such model");
        fake.EnqueueError(404, "no such model");
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);
        var request = TestGateways.Ask("unused") with { Models = ["openai/gpt-x", "openai/gpt-y"] };

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CompleteAsync(request, TestContext.Current.CancellationToken))).Error;

        Assert.Contains("All 2 models", error.Message, StringComparison.Ordinal);
        var attempts = error.Details!["attempts"]!.AsArray();
        Assert.Equal(["openai/gpt-x", "openai/gpt-y"], attempts.Select(a => a!["model"]!.GetValue<string>()));
    }

    [Fact]
    public async Task CancellationAbortsTheInFlightRequest()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.Enqueue(FakeResponse.Hanging());
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

        var call = gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), cancellation.Token);
        await WaitUntil(() => fake.CallCount == 1);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        var aborted = await fake.RequestAborted.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal("/v1/chat/completions", aborted.Path);
        Assert.Equal(1, fake.CallCount);
    }

    [Fact]
    public async Task ExactRepeatIsServedFromTheCacheAtNoCost()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { PromptTokens = 5000, CompletionTokens = 3000 });
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);
        var request = TestGateways.Ask("openai/gpt-4o") with { CacheTtl = TimeSpan.FromMinutes(5) };

        var first = await gateway.CompleteAsync(request, TestContext.Current.CancellationToken);
        var second = await gateway.CompleteAsync(request, TestContext.Current.CancellationToken);
        var differentPrompt = await gateway.CompleteAsync(request with { Messages = TestGateways.Ask("x", "other").Messages }, TestContext.Current.CancellationToken);

        Assert.False(first.CacheHit);
        Assert.Equal(0.0425m, first.CostUsd);
        Assert.True(second.CacheHit);
        Assert.Equal(0m, second.CostUsd);
        Assert.Equal(CostSources.Cache, second.CostSource);
        Assert.Equal((5000, 3000), (second.InputTokens, second.OutputTokens));
        Assert.Equal(first.Text, second.Text);
        Assert.Equal(first.PromptHash, second.PromptHash);
        Assert.False(differentPrompt.CacheHit);
        Assert.Equal(2, fake.CallCount);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = Stopwatch.GetTimestamp();
        while (!condition())
        {
            Assert.True(Stopwatch.GetElapsedTime(deadline) < TimeSpan.FromSeconds(5), "condition not met in 5 s");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }
}
