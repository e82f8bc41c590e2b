using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using LlmWorkflow.Storage;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// A mounted workflows folder (Workflows:Root) brings its own pricing file and mock answers, as the image's copy
/// does; explicit Pricing:FilePath / Llm:Mock:ResponsesDirectory settings still win.
/// </summary>
[UnitTest]
public sealed class WorkflowsFolderDataFilesTests
{
    [Fact]
    public void PricingAndMockAnswersComeFromTheConfiguredWorkflowsFolder()
    {
        var root = Directory.CreateTempSubdirectory("llmwf-root-");
        try
        {
            Directory.CreateDirectory(Path.Combine(root.FullName, "definitions"));
            Directory.CreateDirectory(Path.Combine(root.FullName, "prompts"));
            Directory.CreateDirectory(Path.Combine(root.FullName, "mock-responses"));
            File.WriteAllText(Path.Combine(root.FullName, "pricing.json"), """{"models":{"acme/only-here":{"inputPerMillion":7,"outputPerMillion":9}}}""");

            using var services = Build(root.FullName, []);
            var prices = services.GetRequiredService<IPriceTable>();
            Assert.True(prices.TryGetPrice("acme/only-here", out var price), "the folder's pricing.json was not used");
            Assert.Equal(7m, price.InputPerMillion);
            Assert.Equal(Path.Combine(root.FullName, "mock-responses"), services.GetRequiredService<IOptions<LlmOptions>>().Value.Mock.ResponsesDirectory);

            var explicitResponses = Path.Combine(root.FullName, "elsewhere");
            using var overridden = Build(root.FullName, new()
            {
                ["Pricing:FilePath"] = Path.Combine(RepositoryPaths.Workflows, "pricing.json"),
                ["Llm:Mock:ResponsesDirectory"] = explicitResponses,
            });
            Assert.False(overridden.GetRequiredService<IPriceTable>().TryGetPrice("acme/only-here", out _));
            Assert.Equal(explicitResponses, overridden.GetRequiredService<IOptions<LlmOptions>>().Value.Mock.ResponsesDirectory);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    private static ServiceProvider Build(string root, Dictionary<string, string?> extra)
    {
        var settings = new Dictionary<string, string?>
        {
            // Never contacted: resolving prices and options opens no connection.
            ["ConnectionStrings:postgres"] = "Host=127.0.0.1;Port=1;Database=unused",
            ["ConnectionStrings:redis"] = "127.0.0.1:1",
            ["Workflows:Root"] = root,
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddLlmWorkflowCore(configuration);
        return services.BuildServiceProvider();
    }
}
