using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Engine;

/// <summary>
/// Locates the <c>workflows/</c> folder (definitions, prompts, pricing): the configured path, else the nearest
/// <c>workflows/definitions</c> found walking up from the working directory or the application's base directory.
/// </summary>
public static class WorkflowsDirectory
{
    /// <summary>
    /// Points pricing (<c>pricing.json</c>) and the mock provider's canned answers (<c>mock-responses/</c>) at the
    /// resolved workflows folder, so <c>Workflows:Root</c> moves them too. An explicit <c>Pricing:FilePath</c> or
    /// <c>Llm:Mock:ResponsesDirectory</c> still wins; a root without the file keeps the default lookup.
    /// </summary>
    public static void UseDataFilesOf(IServiceCollection services, IConfiguration configuration, string root)
    {
        services.PostConfigure<PricingOptions>(options =>
        {
            var pricing = Path.Combine(root, "pricing.json");
            if (string.IsNullOrEmpty(configuration[$"{PricingOptions.SectionName}:FilePath"]) && File.Exists(pricing))
            {
                options.FilePath = pricing;
            }
        });
        services.PostConfigure<LlmOptions>(options =>
        {
            var responses = Path.Combine(root, "mock-responses");
            if (string.IsNullOrEmpty(configuration[$"{LlmOptions.SectionName}:Mock:ResponsesDirectory"]) && Directory.Exists(responses))
            {
                options.Mock.ResponsesDirectory = responses;
            }
        });
    }

    public static string Resolve(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            var full = Path.GetFullPath(configured);
            return Directory.Exists(full)
                ? full
                : throw new DirectoryNotFoundException($"Workflows:Root is set to '{configured}', which does not exist.");
        }

        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "workflows");
                if (Directory.Exists(Path.Combine(candidate, "definitions")))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException(
            "Could not find a 'workflows/definitions' folder above the working directory; set Workflows:Root.");
    }
}
