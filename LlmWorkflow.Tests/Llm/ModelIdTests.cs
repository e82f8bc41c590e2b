using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Tests.Llm;

[UnitTest]
public sealed class ModelIdTests
{
    [Theory]
    [InlineData("openrouter/anthropic/claude-3.5-sonnet", "openrouter", "anthropic/claude-3.5-sonnet")]
    [InlineData("openai/gpt-4o", "openai", "gpt-4o")]
    [InlineData("Ollama/llama3.2:3b", "ollama", "llama3.2:3b")]
    public void SplitsAtTheFirstSlash(string id, string provider, string model) =>
        Assert.Equal(new ModelId(provider, model), ModelId.Parse(id));

    [Theory]
    [InlineData("gpt-4o")]
    [InlineData("/gpt-4o")]
    [InlineData("openai/")]
    public void RejectsIdsWithoutProviderAndModel(string id)
    {
        var error = Assert.Throws<WorkflowException>(() => ModelId.Parse(id)).Error;
        Assert.Equal(ErrorCategory.ConfigError, error.Category);
        Assert.Equal("invalid_model_id", error.Type);
    }
}
