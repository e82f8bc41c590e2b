using System.CommandLine;
using System.Text.RegularExpressions;
using LlmWorkflow.Cli.Editing;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Cli.Scaffolding;
using Spectre.Console;

namespace LlmWorkflow.Cli.Commands;

/// <summary>
/// <c>edit &lt;workflow&gt;</c>: the interactive terminal editor for a definition file. A name that has no file yet
/// starts a new workflow from <c>new</c>'s scaffold.
/// </summary>
internal static partial class EditCommand
{
    public static Command Create(CliConsole console)
    {
        var workflow = new Argument<string>("workflow") { Description = "A workflow name (workflows/definitions/<name>.json; created from the scaffold when absent) or a path to a .json file." };
        var workflows = CommonOptions.Workflows();
        var command = new Command("edit", "Edit a workflow definition interactively: step tree, add/remove/move/duplicate steps, fields with choices, live validation, diagram, dry-run cost, undo, save.")
        {
            workflow, workflows,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!console.Interactive)
            {
                throw new UsageException("edit needs a terminal (standard output is redirected).");
            }

            var (path, folder) = await ResolveAsync(parse.GetRequiredValue(workflow), parse.GetValue(workflows), console, cancellationToken);
            DefinitionDocument document;
            try
            {
                document = new DefinitionDocument(path, await File.ReadAllTextAsync(path, cancellationToken));
            }
            catch (System.Text.Json.JsonException ex)
            {
                // The editor works on the JSON tree, so the text must parse first.
                throw new UsageException($"{console.DisplayPath(path)}: {Engine.Definitions.JsonErrorText.Describe(ex)} Fix the JSON syntax, then edit.");
            }

            // Shown at once: the engine (pricing, providers, validator) takes a moment to load.
            console.Ansi.MarkupLine($"[bold]llmwf edit[/] {Markup.Escape(console.DisplayPath(path))}: loading the validator and the price list…");
            await using var engine = LocalEngine.Create(folder, mock: true);
            console.Ansi.MarkupLine("checking it (the first check compiles its prompt templates)…");
            var keys = new EditorConsole(console.Ansi);
            var ctrlCAsKey = TryTreatControlCAsInput(true);
            try
            {
                new WorkflowEditor(document, keys, engine, folder).Run();
            }
            finally
            {
                if (ctrlCAsKey)
                {
                    TryTreatControlCAsInput(false);
                }
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static async Task<(string Path, WorkflowsFolder? Folder)> ResolveAsync(string nameOrPath, string? workflowsOption, CliConsole console, CancellationToken cancellationToken)
    {
        if (nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || nameOrPath.Contains('/') || nameOrPath.Contains(Path.DirectorySeparatorChar))
        {
            var file = console.FullPath(nameOrPath);
            return File.Exists(file)
                ? (file, WorkflowReference.FolderFor(file, workflowsOption, console))
                : throw new UsageException($"{nameOrPath}: no such file (give a workflow name to start a new one).");
        }

        var folder = WorkflowsFolder.Find(workflowsOption, console.WorkingDirectory) ?? new WorkflowsFolder(Path.Combine(console.WorkingDirectory, "workflows"));
        var path = Path.Combine(folder.Definitions, nameOrPath + ".json");
        if (File.Exists(path))
        {
            return (path, folder);
        }

        if (!NamePattern().IsMatch(nameOrPath))
        {
            throw new UsageException($"\"{nameOrPath}\" is not a valid workflow name: use lower-case letters, digits, _ and -, starting with a letter.");
        }

        foreach (var (relative, content) in WorkflowScaffold.Files(nameOrPath, "mock/echo"))
        {
            var target = Path.Combine(folder.Root, relative);
            if (!File.Exists(target))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await File.WriteAllTextAsync(target, content, cancellationToken);
            }
        }

        return (path, folder);
    }

    /// <summary>Ctrl+C as a key the editor reads (so it can ask before losing edits) instead of a signal; false when stdin is no terminal.</summary>
    private static bool TryTreatControlCAsInput(bool value)
    {
        try
        {
            Console.TreatControlCAsInput = value;
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9_-]*$")]
    private static partial Regex NamePattern();
}
