using LlmWorkflow.Cli;

namespace LlmWorkflow.Tests.Cli;

/// <summary>The built tool as a separate process (<c>dotnet llmwf.dll</c>), output redirected as in CI.</summary>
[SystemTest]
public sealed class ProcessTests : IDisposable
{
    private readonly TempWorkflows _project = new();

    [Fact]
    public async Task ValidateExitsZeroOnTheShippedWorkflows()
    {
        var result = await CliHarness.RunProcessAsync(CliHarness.RepositoryRoot, null, "validate", "--mock");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
    }

    [Fact]
    public async Task ValidateExitsOneNamingFileAndPath()
    {
        _project.Definition("bad.json", """{ "name": "bad", "steps": [ { "id": "x", "type": "teleport" } ] }""");

        var result = await CliHarness.RunProcessAsync(_project.Root, null, "validate");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains($"{Path.Combine("workflows", "definitions", "bad.json")}:$.steps[0].type: error unknown_step_type:", result.Out);
    }

    [Fact]
    public async Task RunPrintsPlainProgressWhenRedirectedAndJsonWhenAsked()
    {
        var plain = await CliHarness.RunProcessAsync(CliHarness.RepositoryRoot, null, "run", "hello_transform", "-i", """{"name": "Ada"}""");
        var json = await CliHarness.RunProcessAsync(CliHarness.RepositoryRoot, null, "run", "hello_transform", "-i", """{"name": "Ada"}""", "--json");

        Assert.True(plain.ExitCode == ExitCodes.Success, plain.ToString());
        Assert.DoesNotContain('\u001b', plain.Out);
        Assert.Contains("run started: hello_transform (1 steps)", plain.Out);
        Assert.Contains("run completed:", plain.Out);
        Assert.Equal(ExitCodes.Success, json.ExitCode);
        Assert.Equal("Hello, Ada!", (string?)json.Json["output"]?["greeting"]);
    }

    [Fact]
    public async Task UsageErrorsExitTwo()
    {
        var unknownCommand = await CliHarness.RunProcessAsync(CliHarness.RepositoryRoot, null, "explode");
        var badInput = await CliHarness.RunProcessAsync(CliHarness.RepositoryRoot, null, "run", "hello_transform", "--input", "{not json");

        Assert.Equal(ExitCodes.UsageError, unknownCommand.ExitCode);
        Assert.Equal(ExitCodes.UsageError, badInput.ExitCode);
        Assert.StartsWith("--input: not valid JSON:", badInput.Error);
    }

    public void Dispose() => _project.Dispose();
}
