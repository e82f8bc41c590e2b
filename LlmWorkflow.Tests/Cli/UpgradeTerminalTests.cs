namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// A workflow author with document 001 in hand, in a real terminal (tmux) on a machine without provider keys: the
/// document's example, exactly as printed, is upgraded and then validates (the missing key is a warning, not a failure).
/// </summary>
[SystemTest]
public sealed class UpgradeTerminalTests : IDisposable
{
    private static readonly TimeSpan ScreenTimeout = TimeSpan.FromSeconds(60);

    private readonly TempWorkflows _project = new();

    [Fact]
    public async Task Document001ExampleAsPrintedUpgradesThenValidatesWithoutProviderKeys()
    {
        _project.Definition("my_workflow.json", Document001.QuickExample);
        // The prompt the example names is the author's own file, as in the document's workflows/prompts tree.
        _project.File("workflows/prompts/my-workflow/prompt.md", "Suggest what to wear for this weather: {{weather.current.condition.text}}.\n");
        var tool = $"dotnet {CliHarness.ToolPath}";

        using var terminal = TmuxTerminal.Start(_project.Root,
            $"{TmuxTerminal.WithoutProviderKeys}{tool} upgrade workflows/definitions/my_workflow.json && {tool} validate workflows/definitions");
        var screen = await terminal.WaitForScreenAsync(s => s.Contains("EXIT="), ScreenTimeout);
        // Lines longer than the pane wrap; the checks read the text as printed.
        screen = screen.Replace("\n", "", StringComparison.Ordinal);

        Assert.Contains("Upgraded workflows/definitions/my_workflow.json: 4 change(s); it validates, with 1 warning(s) about this machine", screen);
        Assert.Contains("workflows/definitions/my_workflow.json:$.steps[1].config.model: warning missing_provider_key: Missing API key for LLM provider 'openrouter'", screen);
        Assert.Contains("Llm__Mock__ServeAllModels=true", screen);
        Assert.Contains("OK: 1 workflow file(s) valid, 1 warning(s).", screen);
        Assert.Contains("EXIT=0", screen);
        Assert.DoesNotContain("System.", screen);
    }

    public void Dispose() => _project.Dispose();
}
