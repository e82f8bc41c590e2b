using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Llm;

public sealed class ModelCatalogTests
{
    private static ModelCatalog Catalog(LlmOptions options, params (string Name, string Value)[] environment)
    {
        var env = environment.ToDictionary(e => e.Name, e => e.Value);
        return new ModelCatalog(new LlmProviderRegistry(Options.Create(options), name => env.GetValueOrDefault(name)), TestGateways.Prices);
    }

    [Fact]
    public void CallablePricedModelsHaveNoProblem()
    {
        var catalog = Catalog(TestGateways.Options(), ("OPENROUTER_API_KEY", "sk-or-x"));

        Assert.Null(catalog.Check("openrouter/anthropic/claude-3.5-sonnet"));
        Assert.Null(catalog.Check("mock/echo"));
    }

    [Theory]
    [InlineData("claude", "not of the form provider/model")]
    [InlineData("nowhere/model", "Unknown LLM provider 'nowhere'")]
    [InlineData("openai/gpt-4o", "OPENAI_API_KEY")]
    [InlineData("anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY")]
    [InlineData("openrouter/some/new-model", "Unpriced model")]
    public void ProblemsNameTheFix(string model, string expected)
    {
        var catalog = Catalog(TestGateways.Options(), ("OPENROUTER_API_KEY", "sk-or-x"));

        Assert.Contains(expected, catalog.Check(model), StringComparison.Ordinal);
    }

    [Fact]
    public void ServeAllModelsNeedsNoKeys()
    {
        var options = TestGateways.Options();
        options.Mock.ServeAllModels = true;

        Assert.Null(Catalog(options).Check("openai/gpt-4o"));
    }
}
