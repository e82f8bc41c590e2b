using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>Settings that point a test environment at the pipeline test workflows and a fake OpenAI server.</summary>
internal static class PipelineTestWorkflows
{
    public static string Root => Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Pipeline", "workflows");

    public static Dictionary<string, string?> Settings(FakeOpenAiServer llm, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Workflows:Root"] = Root,
            ["Pricing:FilePath"] = Path.Combine(RepositoryPaths.Workflows, "pricing.json"),
            ["Llm:Providers:openai:BaseUrl"] = llm.ApiUrl.ToString(),
            ["Llm:Providers:openai:ApiKey"] = "sk-test",
            ["Llm:Retry:MaxAttempts"] = "1",
            ["Worker:LeaseDuration"] = "00:00:02",
            ["Worker:ReclaimInterval"] = "00:00:00.500",
            ["Worker:RedispatchAfter"] = "00:00:03",
            ["Worker:ReconcileInterval"] = "00:00:01",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>How many requests the fake received whose prompt contains <paramref name="marker"/>.</summary>
    public static int CallsContaining(FakeOpenAiServer llm, string marker) =>
        llm.Requests.Count(r => r.Body.Contains(marker, StringComparison.Ordinal));
}
