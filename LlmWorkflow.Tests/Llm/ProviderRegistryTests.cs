using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Llm;

/// <summary>How <see cref="LlmProviderRegistry"/> hands out the clients of configured providers.</summary>
[UnitTest]
public sealed class ProviderRegistryTests
{
    [Fact]
    public async Task ConcurrentFirstCallsForAModelGetOneClient()
    {
        using var registry = new LlmProviderRegistry(
            Options.Create(TestGateways.Options(("local", new LlmProviderOptions { BaseUrl = "http://127.0.0.1:9/v1" }))), _ => null);
        using var start = new Barrier(16);

        // Threads of their own: sixteen pool threads blocked on the barrier would wait for the pool to grow.
        var clients = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait(TestContext.Current.CancellationToken);
            return registry.GetClient(ModelId.Parse("local/llama3"));
        }, TaskCreationOptions.LongRunning)));

        Assert.Single(clients.Distinct());
        Assert.NotSame(clients[0], registry.GetClient(ModelId.Parse("local/other-model")));
    }

    [Fact]
    public void AProviderWithoutABaseUrlFailsEachCallWithTheSettingToSet()
    {
        using var registry = new LlmProviderRegistry(Options.Create(TestGateways.Options(("local", new LlmProviderOptions()))), _ => null);

        // Twice: a failed first call leaves nothing behind that a later call would get instead of the same clear error.
        for (var call = 0; call < 2; call++)
        {
            var error = Assert.Throws<WorkflowException>(() => registry.GetClient(ModelId.Parse("local/llama3"))).Error;
            Assert.Equal(("missing_base_url", ErrorCategory.ConfigError), (error.Type, error.Category));
            Assert.Contains("Llm:Providers:local:BaseUrl", error.Message);
        }
    }
}
