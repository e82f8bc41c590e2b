using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// The CLI carries the workflow engine only: no database driver, no ORM, no web framework and no job pipeline. Read
/// from the tool's own <c>llmwf.deps.json</c> and <c>llmwf.runtimeconfig.json</c> (the build copies them beside
/// <see cref="CliHarness.ToolPath"/>, which the process tests run), so a project reference that drags them back in
/// fails here.
/// </summary>
[SystemTest]
public sealed class CliDependenciesTests
{
    private static readonly string[] ForbiddenLibraryPrefixes =
    [
        "Microsoft.EntityFrameworkCore",
        "Npgsql",
        "Microsoft.AspNetCore",
        "LlmWorkflow.Storage",
        "LlmWorkflow.Api",
        "LlmWorkflow.Worker",
    ];

    [Fact]
    public void DepsListTheEngineAndNothingOfThePipeline()
    {
        var libraries = Libraries();

        Assert.Contains(libraries, name => name.StartsWith("LlmWorkflow.Engine/", StringComparison.Ordinal));
        var forbidden = libraries.Where(name => ForbiddenLibraryPrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase))).ToList();
        Assert.True(forbidden.Count == 0, "llmwf.deps.json lists: " + string.Join(", ", forbidden));
    }

    [Fact]
    public void RunsOnTheBaseRuntimeWithoutAspNetCore()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.ChangeExtension(CliHarness.ToolPath, ".runtimeconfig.json")))!["runtimeOptions"]!;

        // One shared framework is written as "framework", several as "frameworks".
        var frameworks = config["frameworks"] is JsonArray many
            ? many.Select(f => f!["name"]!.GetValue<string>()).ToList()
            : [config["framework"]!["name"]!.GetValue<string>()];
        Assert.Equal(["Microsoft.NETCore.App"], frameworks);
    }

    private static List<string> Libraries()
    {
        var deps = JsonNode.Parse(File.ReadAllText(Path.ChangeExtension(CliHarness.ToolPath, ".deps.json")))!;
        return deps["libraries"]!.AsObject().Select(library => library.Key).ToList();
    }
}
