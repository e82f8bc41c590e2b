using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Llm;

[UnitTest]
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
    [InlineData("claude", "invalid_model", "not of the form provider/model")]
    [InlineData("nowhere/model", "unknown_model", "Unknown LLM provider 'nowhere'")]
    [InlineData("openai/gpt-4o", "missing_provider_key", "OPENAI_API_KEY")]
    [InlineData("anthropic/claude-sonnet-4-5", "missing_provider_key", "ANTHROPIC_API_KEY")]
    [InlineData("openrouter/some/new-model", "unknown_model", "Unpriced model")]
    public void ProblemsNameTheFix(string model, string code, string expected)
    {
        var catalog = Catalog(TestGateways.Options(), ("OPENROUTER_API_KEY", "sk-or-x"));

        var problem = catalog.Check(model);

        Assert.NotNull(problem);
        Assert.Equal(code, problem.Code);
        Assert.Contains(expected, problem.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(problem.Hint));
    }

    [Fact]
    public void AMissingKeyPointsToTheOfflineCheck()
    {
        var problem = Catalog(TestGateways.Options()).Check("openrouter/anthropic/claude-3.5-sonnet");

        Assert.Equal("missing_provider_key", problem?.Code);
        Assert.Contains("llmwf validate --mock", problem!.Hint, StringComparison.Ordinal);
        Assert.Contains("Llm__Mock__ServeAllModels=true", problem.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void ServeAllModelsNeedsNoKeys()
    {
        var options = TestGateways.Options();
        options.Mock.ServeAllModels = true;

        Assert.Null(Catalog(options).Check("openai/gpt-4o"));
    }
}
