using LlmWorkflow.Cli;

namespace LlmWorkflow.Tests.Cli;

/// <summary>The authoring loop on a scaffold: <c>new</c> → <c>validate</c> → <c>dry-run</c> → <c>diagram</c> → <c>run --mock</c>.</summary>
[SystemTest]
public sealed class AuthoringLoopTests : IDisposable
{
    private readonly TempWorkflows _project = new();

    [Fact]
    public async Task ScaffoldValidatesPlansDrawsAndRunsWithMock()
    {
        var created = await CliHarness.RunAsync(_project.Root, "new", "trip_notes");
        Assert.True(created.ExitCode == ExitCodes.Success, created.ToString());
        Assert.True(File.Exists(Path.Combine(_project.Definitions, "trip_notes.json")));
        Assert.True(File.Exists(Path.Combine(_project.Workflows, "prompts", "trip_notes", "draft.md")));
        Assert.True(File.Exists(Path.Combine(_project.Workflows, "examples", "trip_notes.json")));

        var validated = await CliHarness.RunAsync(_project.Root, "validate");
        Assert.True(validated.ExitCode == ExitCodes.Success, validated.ToString());

        var planned = await CliHarness.RunAsync(_project.Root, "dry-run", "trip_notes", "--json");
        Assert.True(planned.ExitCode == ExitCodes.Success, planned.ToString());
        Assert.Equal(["draft", "shape"], planned.Json["steps"]!.AsArray().Select(s => (string?)s!["id"]));

        var diagram = await CliHarness.RunAsync(_project.Root, "diagram", "trip_notes");
        Assert.StartsWith("flowchart TD", diagram.Out);

        var run = await CliHarness.RunAsync(_project.Root, "run", "trip_notes", "--mock", "--json");
        Assert.True(run.ExitCode == ExitCodes.Success, run.ToString());
        // mock/echo answers with the rendered prompt: the sample input reached the prompt file.
        Assert.Contains("Explain why the sky is blue", (string?)run.Json["output"]?["explanation"]);
    }

    [Fact]
    public async Task NewRefusesToOverwriteWithoutForce()
    {
        await CliHarness.RunAsync(_project.Root, "new", "twice");

        var again = await CliHarness.RunAsync(_project.Root, "new", "twice");
        var forced = await CliHarness.RunAsync(_project.Root, "new", "twice", "--force");

        Assert.Equal(ExitCodes.UsageError, again.ExitCode);
        Assert.Contains("Not overwriting", again.Error);
        Assert.Equal(ExitCodes.Success, forced.ExitCode);
    }

    [Fact]
    public async Task NewRejectsAnInvalidName()
    {
        var result = await CliHarness.RunAsync(_project.Root, "new", "Bad Name");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("not a valid workflow name", result.Error);
        Assert.Empty(Directory.EnumerateFiles(_project.Definitions));
    }

    public void Dispose() => _project.Dispose();
}
