using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Llm;

/// <summary>Workflows:Root moves pricing.json and mock-responses/ with the definitions (the README says it does).</summary>
public sealed class WorkflowsRootDataFilesTests
{
    [Fact]
    public async Task PricingAndMockResponsesComeFromTheConfiguredRoot()
    {
        var root = Directory.CreateTempSubdirectory("llmwf-root-");
        try
        {
            Directory.CreateDirectory(Path.Combine(root.FullName, "definitions"));
            Directory.CreateDirectory(Path.Combine(root.FullName, "prompts"));
            Directory.CreateDirectory(Path.Combine(root.FullName, "mock-responses"));
            File.Copy(Path.Combine(RepositoryPaths.Workflows, "pricing.json"), Path.Combine(root.FullName, "pricing.json"));

            await using var services = Build(new Dictionary<string, string?> { ["Workflows:Root"] = root.FullName });
            Assert.Equal(Path.Combine(root.FullName, "pricing.json"), services.GetRequiredService<IOptions<PricingOptions>>().Value.FilePath);
            Assert.Equal(Path.Combine(root.FullName, "mock-responses"), services.GetRequiredService<IOptions<LlmOptions>>().Value.Mock.ResponsesDirectory);

            await using var explicitPricing = Build(new Dictionary<string, string?> { ["Workflows:Root"] = root.FullName, ["Pricing:FilePath"] = "elsewhere.json" });
            Assert.Equal("elsewhere.json", explicitPricing.GetRequiredService<IOptions<PricingOptions>>().Value.FilePath);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        settings["ConnectionStrings:postgres"] = "Host=127.0.0.1;Port=1";
        settings["ConnectionStrings:redis"] = "127.0.0.1:1";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new ServiceCollection().AddLogging().AddLlmWorkflowCore(configuration).BuildServiceProvider();
    }
}
