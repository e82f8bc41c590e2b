using LlmWorkflow.Cli;

namespace LlmWorkflow.Tests.Cli;

/// <summary><c>llmwf diagram</c>: Mermaid and markdown output, to standard output or a file.</summary>
[SystemTest]
public sealed class DiagramCommandTests : IDisposable
{
    private readonly TempWorkflows _project = new();

    [Fact]
    public async Task MermaidGoesToStandardOutput()
    {
        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "diagram", "hello_transform");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.StartsWith("flowchart TD\n", result.Out);
        Assert.Contains("s_greet[\"Say hello\"]", result.Out);
    }

    [Fact]
    public async Task MarkdownToAFileWrapsTheDiagramInAMermaidBlock()
    {
        var definition = Path.Combine(CliHarness.RepositoryRoot, "workflows", "definitions", "hello_transform.json");

        var result = await CliHarness.RunAsync(_project.Root, "diagram", definition, "--format", "markdown", "--out", "hello.md");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var markdown = await File.ReadAllTextAsync(Path.Combine(_project.Root, "hello.md"), TestContext.Current.CancellationToken);
        Assert.StartsWith("# hello_transform\n", markdown);
        Assert.Contains("```mermaid\nflowchart TD\n", markdown);
        Assert.EndsWith("```\n", markdown);
    }

    [Fact]
    public async Task UnknownFormatIsAUsageError()
    {
        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "diagram", "hello_transform", "--format", "svg");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("svg", result.Error);
    }

    public void Dispose() => _project.Dispose();
}
