using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// <c>llmwf edit</c> in a real terminal (tmux): editing emergency_contacts.json — add a step, change a model, move a
/// step into a parallel branch, remove and undo, save — gives exactly the expected file (made independently with
/// Python's json module: key order and formatting of untouched parts kept); a problem shows beside the step and a
/// definition with problems is not saved without confirmation. Menus are driven by typing to search, as a user can.
/// </summary>
[SystemTest]
public sealed class EditorTests : IDisposable
{
    private static readonly TimeSpan ScreenTimeout = TimeSpan.FromSeconds(60);
    private static readonly string EditorFiles = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Cli", "EditorFiles");

    private readonly TempWorkflows _project = new();
    private readonly string _definition;

    public EditorTests()
    {
        // A fixed snapshot of the shipped definition, so the expected file stays right when the shipped one evolves.
        _definition = _project.Definition("emergency_contacts.json", File.ReadAllText(Path.Combine(EditorFiles, "emergency_contacts.original.json")));
        CopyDirectory(Path.Combine(RepositoryPaths.Workflows, "prompts"), Path.Combine(_project.Workflows, "prompts"));
    }

    [Fact]
    public async Task EditingEmergencyContactsGivesTheExpectedFile()
    {
        using var terminal = TmuxTerminal.Start(_project.Root, $"dotnet {CliHarness.ToolPath} edit emergency_contacts");
        await terminal.WaitForScreenAsync(screen => screen.Contains("+ Add step") && screen.Contains("saved  valid"), ScreenTimeout);

        // Add a transform step at the end.
        await Choose(terminal, "Add", "Step type");
        await Choose(terminal, "transform", "Step id:");
        await Enter(terminal, "count_scenarios", "Display name");
        await Enter(terminal, "Counting Scenarios", "Transform");
        await Choose(terminal, "count", "input (an expression)");
        await Enter(terminal, "${input.scenarios}", "added count_scenarios");

        // Change the primary model of the llm step (its fallback stays).
        await Choose(terminal, "generate_analysis", "Change model");
        await Choose(terminal, "Change", "Model (priced in pricing.json)");
        await Choose(terminal, "openrouter/anthropic/claude-sonnet-4", "primary model = openrouter/anthropic/claude-sonnet-4");

        // Move the new step into the police branch of the parallel step, first.
        await Choose(terminal, "count_scenarios", "Move into");
        await Choose(terminal, "into", "police (branch of fetch_google_places)");
        await Choose(terminal, "police", "Where in it");
        var moved = await Choose(terminal, "start", "└ police: count_scenarios (transform)");
        Assert.Contains("moved count_scenarios into police", moved);

        // Remove a step others depend on: the problem shows at once; undo brings the step back.
        var broken = await Choose(terminal, "parse_response", "Remove");
        broken = await Choose(terminal, "Remove", "removed parse_response", "(Type to search)");
        Assert.Contains("problem(s)", broken);
        Assert.Contains("refers to step \"parse_response\", which does not exist", broken);
        await Choose(terminal, "Undo", "undid: remove parse_response");

        await Choose(terminal, "Save", "saved " + _definition);
        await Choose(terminal, "Quit", "EXIT=0");

        Assert.Equal(File.ReadAllText(Path.Combine(EditorFiles, "emergency_contacts.expected.json")), File.ReadAllText(_definition));
    }

    [Fact]
    public async Task ADefinitionWithAProblemShowsItAndIsNotSavedSilently()
    {
        using var terminal = TmuxTerminal.Start(_project.Root, $"dotnet {CliHarness.ToolPath} edit emergency_contacts");
        await terminal.WaitForScreenAsync(screen => screen.Contains("+ Add step"), ScreenTimeout);

        // Point a transform at a step that does not exist: the problem appears beside that step.
        await Choose(terminal, "nearest_police", "Edit a field");
        await Choose(terminal, "Edit", "Field of nearest_police");
        await Choose(terminal, "config.input", "input (empty removes it)");
        terminal.Press("C-u");
        var shown = await Enter(terminal, "${steps.no_such_step.output}", "config.input = ${steps.no_such_step.output}", "(Type to search)");
        Assert.Contains("1 problem(s)", shown);
        Assert.Contains(shown.Split('\n'), line => line.Contains("nearest_police (transform)", StringComparison.Ordinal) && line.Contains("⚠", StringComparison.Ordinal));

        // Save asks first; the default answer (Enter) keeps the file as it was.
        await Choose(terminal, "Save", "Save anyway?");
        await Enter(terminal, "", "not saved: 1 problem(s)");
        Assert.Equal(File.ReadAllText(Path.Combine(EditorFiles, "emergency_contacts.original.json")), File.ReadAllText(_definition));

        // Quitting with unsaved changes asks too.
        await Choose(terminal, "Quit", "There are unsaved changes.");
        await Choose(terminal, "Discard", "EXIT=0");
        Assert.Equal(File.ReadAllText(Path.Combine(EditorFiles, "emergency_contacts.original.json")), File.ReadAllText(_definition));
    }

    [Fact]
    public async Task AStepAddedInTheEditorReachesTheWorkflowOutput()
    {
        using var terminal = TmuxTerminal.Start(_project.Root, $"dotnet {CliHarness.ToolPath} edit emergency_contacts");
        await terminal.WaitForScreenAsync(screen => screen.Contains("+ Add step") && screen.Contains("saved  valid"), ScreenTimeout);

        await Choose(terminal, "Add", "Step type");
        await Choose(terminal, "transform", "Step id:");
        await Enter(terminal, "count_scenarios", "Display name");
        await Enter(terminal, "Counting Scenarios", "Transform");
        await Choose(terminal, "count", "input (an expression)");
        await Enter(terminal, "${input.scenarios}", "added count_scenarios; the job output is the workflow output, which does not use it yet");

        // The workflow's own output gains a field holding the new step's output.
        await Choose(terminal, "Workflow", "Add a field from a step's output");
        await Choose(terminal, "Add", "Step whose output the field holds");
        await Choose(terminal, "count_scenarios", "Field name:");
        var shown = await Enter(terminal, "scenario_count", "workflow output = {");
        Assert.Contains("saved", await Choose(terminal, "Save", "saved " + _definition));
        Assert.Contains("valid", shown);
        await Choose(terminal, "Quit", "EXIT=0");

        var saved = JsonNode.Parse(File.ReadAllText(_definition))!.AsObject();
        var output = saved["output"]!.AsObject();
        Assert.Equal("${steps.count_scenarios.output}", (string?)output["scenario_count"]);
        Assert.Equal(["contacts", "meetingLocations", "quickReference", "notes", "analysis_markdown", "nearby_services", "llm_usage", "scenario_count"], output.Select(p => p.Key));
        Assert.Equal("count_scenarios", (string?)saved["steps"]!.AsArray().Last()!["id"]);
    }

    [Fact]
    public async Task CtrlCWithUnsavedEditsAsksFirstAndEscClosesMenus()
    {
        using var terminal = TmuxTerminal.Start(_project.Root, $"dotnet {CliHarness.ToolPath} edit emergency_contacts");
        await terminal.WaitForScreenAsync(screen => screen.Contains("+ Add step") && screen.Contains("saved  valid"), ScreenTimeout);

        // Esc closes a menu without changing anything.
        await Choose(terminal, "parse_response", "Remove");
        terminal.Press("Escape");
        await terminal.WaitForScreenAsync(screen => screen.Contains("closed (Esc)") && screen.Contains("saved  valid"), ScreenTimeout);

        await Choose(terminal, "parse_response", "Remove");
        await Choose(terminal, "Remove", "removed parse_response", "modified");

        // Ctrl+C asks; Esc in the question keeps editing, with the edit still there.
        terminal.Press("C-c");
        await terminal.WaitForScreenAsync(screen => screen.Contains("There are unsaved changes."), ScreenTimeout);
        terminal.Press("Escape");
        var kept = await terminal.WaitForScreenAsync(screen => screen.Contains("+ Add step") && !screen.Contains("There are unsaved changes."), ScreenTimeout);
        Assert.Contains("modified", kept);
        Assert.DoesNotContain("EXIT=", kept);

        // Ctrl+C twice discards and quits; the file is as it was.
        terminal.Press("C-c");
        await terminal.WaitForScreenAsync(screen => screen.Contains("There are unsaved changes."), ScreenTimeout);
        terminal.Press("C-c");
        var done = await terminal.WaitForScreenAsync(screen => screen.Contains("EXIT="), ScreenTimeout);
        Assert.Contains("EXIT=0", done);
        Assert.Equal(File.ReadAllText(Path.Combine(EditorFiles, "emergency_contacts.original.json")), File.ReadAllText(_definition));
    }

    [Fact]
    public async Task ANewWorkflowStartsFromTheScaffold()
    {
        using var terminal = TmuxTerminal.Start(_project.Root, $"dotnet {CliHarness.ToolPath} edit fresh_idea");
        var screen = await terminal.WaitForScreenAsync(s => s.Contains("+ Add step"), ScreenTimeout);

        Assert.Contains("fresh_idea.json  saved  valid", screen);
        Assert.True(File.Exists(Path.Combine(_project.Workflows, "prompts", "fresh_idea", "draft.md")));
        await Choose(terminal, "Diagram", "flowchart");
        await Enter(terminal, "", "+ Add step");
        var cost = await Choose(terminal, "Dry-run", "Total");
        Assert.Contains("Dry run of fresh_idea (example input)", cost);
        await Enter(terminal, "", "+ Add step");
        await Choose(terminal, "Quit", "EXIT=0");
    }

    public void Dispose() => _project.Dispose();

    /// <summary>Types a search in the current menu and picks the entry found; waits for <paramref name="expect"/>.</summary>
    private static Task<string> Choose(TmuxTerminal terminal, string search, params string[] expect) => Enter(terminal, search, expect);

    /// <summary>Types <paramref name="text"/>, presses Enter and waits until the screen shows every one of <paramref name="expect"/>.</summary>
    private static async Task<string> Enter(TmuxTerminal terminal, string text, params string[] expect)
    {
        if (text.Length > 0)
        {
            terminal.Type(text);
        }

        terminal.Press("Enter");
        return await terminal.WaitForScreenAsync(screen => expect.All(e => screen.Contains(e, StringComparison.Ordinal)), ScreenTimeout);
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
