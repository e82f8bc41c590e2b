using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Workflows;

/// <summary>The shipped workflow files: definitions, example inputs and canned mock answers.</summary>
internal static class ExampleFiles
{
    public static string Definitions => Path.Combine(RepositoryPaths.Workflows, "definitions");

    public static string Examples => Path.Combine(RepositoryPaths.Workflows, "examples");

    public static string Prompts => Path.Combine(RepositoryPaths.Workflows, "prompts");

    public static IEnumerable<string> WorkflowNames =>
        Directory.GetFiles(Definitions, "*.json").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!;

    public static JsonObject Example(string workflow) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Examples, workflow + ".json")))!.AsObject();

    public static JsonObject Definition(string workflow) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Definitions, workflow + ".json")))!.AsObject();

    /// <summary>The canned mock answer of one step (workflows/mock-responses/&lt;workflow&gt;.json).</summary>
    public static string MockAnswer(string workflow, string step) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Workflows, "mock-responses", workflow + ".json")))![step]!.GetValue<string>();
}
