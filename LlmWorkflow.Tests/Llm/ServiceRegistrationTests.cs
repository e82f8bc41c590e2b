using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Tests.Llm;

[UnitTest]
public sealed class ServiceRegistrationTests
{
    [Fact]
    public async Task ConfigurationWiresGatewaysPricingAndMock()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Llm:Mock:LoremTokens"] = "12",
            ["Llm:Providers:ollama:BaseUrl"] = "http://127.0.0.1:11434/v1",
            ["Pricing:Models:ollama/llama3.2:InputPerMillion"] = "0",
            ["Pricing:Models:ollama/llama3.2:OutputPerMillion"] = "0",
            ["External:Http:AllowedHosts:0"] = "api.example.com",
        }).Build();
        await using var services = new ServiceCollection()
            .AddLogging()
            .AddLlmProviders(configuration)
            .AddExternalServices(configuration)
            .BuildServiceProvider();

        var llm = services.GetRequiredService<ILlmGateway>();
        var result = await llm.CompleteAsync(TestGateways.Ask("mock/lorem"), TestContext.Current.CancellationToken);
        var catalog = services.GetRequiredService<LlmWorkflow.Engine.Definitions.IModelCatalog>();
        var external = services.GetRequiredService<IExternalServiceGateway>();

        Assert.Equal(12, result.OutputTokens);
        Assert.Null(catalog.Check("ollama/llama3.2"));
        Assert.Equal(0m, services.GetRequiredService<IPriceTable>().Cost("ollama/llama3.2", 100, 100));
        Assert.Null(external.Describe("google_places", "nearby_search"));
        Assert.IsType<MemoryResponseCache>(services.GetRequiredService<IResponseCache>());
        Assert.IsType<LocalRateLimiter>(services.GetRequiredService<IServiceRateLimiter>());
        var refused = await Assert.ThrowsAsync<LlmWorkflow.Engine.Execution.WorkflowException>(() => external.CallAsync(
            "http", "get", new JsonObject { ["url"] = "https://elsewhere.example.org/" }, TestContext.Current.CancellationToken));
        Assert.Equal("host_not_allowed", refused.Error.Type);
    }
}
