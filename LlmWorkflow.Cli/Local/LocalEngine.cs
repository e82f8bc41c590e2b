using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Cli.Local;

/// <summary>
/// The engine in-process without Postgres or Redis: providers (keys from the environment, or every model answered by
/// the offline mock), external services with in-memory cache and rate limits, transforms, prompts and prices.
/// Configuration comes from environment variables in the services' own shape (<c>Llm__Providers__ollama__BaseUrl</c>).
/// </summary>
public sealed class LocalEngine : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private LocalEngine(ServiceProvider services, WorkflowsFolder? folder)
    {
        _services = services;
        var transforms = TransformRegistry.CreateDefault();
        var prompts = folder is null ? null : new PromptLibrary(folder.Prompts);
        var external = services.GetRequiredService<IExternalServiceGateway>();
        Validator = new WorkflowValidator(transforms, prompts, external, services.GetRequiredService<IModelCatalog>(), promptsRequired: true);
        Runner = new WorkflowRunner(transforms, services.GetRequiredService<ILlmGateway>(), external, prompts, Prices,
            modules: [new Engine.Agents.AgentStepModule()]);
        Planner = new DryRunPlanner(Validator, prompts, Prices);
    }

    /// <summary>Checks structure, references, transforms, prompt files, services and models (provider keys included).</summary>
    public WorkflowValidator Validator { get; }

    public WorkflowRunner Runner { get; }

    /// <summary>Plans and prices a run without calling anything; prices are those of the named models even with mock.</summary>
    public DryRunPlanner Planner { get; }

    public IPriceTable Prices => _services.GetRequiredService<IPriceTable>();

    /// <summary>Provider names a model id may start with: the built-in ones, mock, and those configured under Llm:Providers.</summary>
    public IReadOnlyCollection<string> KnownProviders => [.. _services.GetRequiredService<LlmProviderRegistry>().KnownProviders()];

    /// <param name="folder">Supplies prompts, pricing and canned mock answers; null for a definition outside a workflows folder.</param>
    /// <param name="mock">Serve every model id with the offline mock provider (no keys, no network, no cost).</param>
    public static LocalEngine Create(WorkflowsFolder? folder, bool mock)
    {
        var defaults = new Dictionary<string, string?>();
        if (folder is not null)
        {
            if (File.Exists(folder.Pricing))
            {
                // Otherwise the engine looks for workflows/pricing.json above the working directory and the tool.
                defaults[$"{PricingOptions.SectionName}:{nameof(PricingOptions.FilePath)}"] = folder.Pricing;
            }

            defaults[$"{LlmOptions.SectionName}:Mock:{nameof(MockProviderOptions.ResponsesDirectory)}"] = folder.MockResponses;
        }

        var builder = new ConfigurationBuilder().AddInMemoryCollection(defaults).AddEnvironmentVariables();
        if (mock)
        {
            // Last, so --mock wins over the environment.
            builder.AddInMemoryCollection([new($"{LlmOptions.SectionName}:Mock:{nameof(MockProviderOptions.ServeAllModels)}", "true")]);
        }

        var configuration = builder.Build();
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton(TimeProvider.System)
            .AddExternalServices(configuration)
            .AddLlmProviders(configuration);
        var provider = services.BuildServiceProvider();
        try
        {
            return new LocalEngine(provider, folder);
        }
        catch (FileNotFoundException ex)
        {
            provider.Dispose();
            throw new UsageException($"{ex.Message} Run inside a repository with workflows/pricing.json or pass --workflows <dir>.");
        }
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
