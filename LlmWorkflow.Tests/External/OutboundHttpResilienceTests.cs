using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Storage.Http;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Llm;
using LlmWorkflow.Worker;
using LlmWorkflow.Worker.Webhooks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Tests.External;

/// <summary>
/// The outbound clients as the hosts compose them (IHttpClientFactory, Microsoft.Extensions.Http.Resilience), against
/// real loopback servers: each failing call is sent exactly as often as its own recorded retry rule says (the LLM
/// gateway's attempts, the external gateway's attempts, the webhook schedule's one attempt per delivery), and an open
/// circuit breaker pauses calls to the failing host only.
/// </summary>
[IntegrationTest]
public sealed class OutboundHttpResilienceTests
{
    [Fact]
    public async Task AFailingProviderIsCalledOnlyAsOftenAsTheGatewaysRetrySays()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        for (var i = 0; i < 5; i++)
        {
            provider.EnqueueError(503, "overloaded");
        }

        await using var services = Services(new()
        {
            ["Llm:Providers:openai:BaseUrl"] = provider.ApiUrl.ToString(),
            ["Llm:Providers:openai:ApiKey"] = "sk-test",
            ["Llm:Retry:MaxAttempts"] = "2",
            ["Llm:Retry:BaseDelay"] = "00:00:00.010",
        });

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => services.GetRequiredService<ILlmGateway>().CompleteAsync(TestGateways.Ask("openai/gpt-4o"), ct))).Error;

        Assert.Equal("provider_unavailable", error.Type);
        Assert.Equal(2, provider.CallCount);
    }

    [Fact]
    public async Task AnOpenBreakerPausesCallsToTheFailingProviderAndNotToAnother()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var failing = await FakeOpenAiServer.StartAsync();
        await using var healthy = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { Chunks = ["still here"] });
        for (var i = 0; i < 5; i++)
        {
            failing.EnqueueError(500, "broken");
        }

        await using var services = Services(new()
        {
            ["Llm:Providers:openai:BaseUrl"] = failing.ApiUrl.ToString(),
            ["Llm:Providers:openai:ApiKey"] = "sk-test",
            ["Llm:Providers:local:BaseUrl"] = healthy.ApiUrl.ToString(),
            ["Llm:Retry:MaxAttempts"] = "1",
            ["Llm:CircuitBreaker:MinimumThroughput"] = "2",
            ["Llm:CircuitBreaker:FailureRatio"] = "0.5",
            ["Llm:CircuitBreaker:BreakDuration"] = "00:01:00",
        });
        var gateway = services.GetRequiredService<ILlmGateway>();

        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<WorkflowException>(() => gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), ct));
        }

        var paused = (await Assert.ThrowsAsync<WorkflowException>(() => gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), ct))).Error;
        var answered = await gateway.CompleteAsync(TestGateways.Ask("local/llama"), ct);

        Assert.Equal(("provider_unavailable", true), (paused.Type, paused.Retryable));
        Assert.Contains("paused", paused.Message, StringComparison.Ordinal);
        Assert.True(paused.RetryAfterSeconds > 0);
        Assert.Equal(2, failing.CallCount);
        Assert.Equal("still here", answered.Text);
    }

    [Fact]
    public async Task AFailingHttpStepTargetIsCalledOnlyAsOftenAsTheExternalGatewaySays()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ScriptedHttpServer.StartAsync(ct);
        await using var services = Services(new()
        {
            ["External:Http:AllowedHosts:0"] = "127.0.0.1",
            ["External:Http:AllowPrivateNetworks"] = "true",
            ["External:MaxAttempts"] = "2",
            ["External:RetryBaseDelay"] = "00:00:00.010",
        });

        var error = (await Assert.ThrowsAsync<WorkflowException>(() => services.GetRequiredService<IExternalServiceGateway>().CallAsync(
            "http", "get", new JsonObject { ["url"] = new Uri(server.BaseAddress, "down").ToString() }, ct))).Error;

        Assert.Equal("service_unavailable", error.Type);
        Assert.Equal(2, server.Hits("/down"));
    }

    [Fact]
    public async Task AWebhookAttemptIsSentOnceHoweverItFails()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ScriptedHttpServer.StartAsync(ct);
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            // Never contacted: the host is composed, not started.
            ["ConnectionStrings:postgres"] = "Host=127.0.0.1;Port=1;Database=unused",
            ["ConnectionStrings:redis"] = "127.0.0.1:1",
            ["Webhooks:AllowPrivateNetworks"] = "true",
        });
        builder.AddWorkerServices();
        using var host = builder.Build();

        var result = await host.Services.GetRequiredService<WebhookSender>().SendAsync(
            new WebhookRequest(new Uri(server.BaseAddress, "down").ToString(), "msg_1", WebhookEventTypes.Completed,
                Encoding.UTF8.GetBytes("{}"), ["secret"], DateTimeOffset.UtcNow),
            ct);

        Assert.Equal(500, result.HttpStatus);
        Assert.Equal(1, server.Hits("/down"));
    }

    /// <summary>The engine's registrations plus what the service's hosts add to its clients.</summary>
    private static ServiceProvider Services(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging(logging => logging.ClearProviders());
        services.AddSingleton<IPriceTable>(TestGateways.Prices);
        services.AddLlmProviders(configuration).AddExternalServices(configuration).AddOutboundHttpResilience(configuration);
        return services.BuildServiceProvider();
    }
}
