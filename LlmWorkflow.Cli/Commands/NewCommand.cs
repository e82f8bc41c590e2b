using System.CommandLine;
using System.Text.RegularExpressions;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Cli.Scaffolding;

namespace LlmWorkflow.Cli.Commands;

/// <summary><c>new &lt;name&gt;</c>: scaffolds a definition, its prompt and a sample input, ready for the authoring loop.</summary>
internal static partial class NewCommand
{
    public static Command Create(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The workflow name: lower-case letters, digits, _ and -, e.g. trip_summary." };
        var workflows = CommonOptions.Workflows();
        workflows.Description = "The workflows folder to write into. Default: the nearest workflows/ above the current directory, else ./workflows.";
        var model = new Option<string>("--model")
        {
            Description = "Model of the llm step (provider/model). The default mock model runs offline; switch to a real one when the prompt is right.",
            DefaultValueFactory = _ => "mock/echo",
        };
        var force = new Option<bool>("--force") { Description = "Overwrite files that already exist." };
        var command = new Command("new", "Scaffold workflows/definitions/<name>.json, prompts/<name>/draft.md and examples/<name>.json.")
        {
            name, workflows, model, force,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var workflowName = parse.GetRequiredValue(name);
            if (!WorkflowNamePattern().IsMatch(workflowName))
            {
                throw new UsageException($"\"{workflowName}\" is not a valid workflow name: use lower-case letters, digits, _ and -, starting with a letter.");
            }

            var folder = WorkflowsFolder.Find(parse.GetValue(workflows), console.WorkingDirectory)
                ?? new WorkflowsFolder(Path.Combine(console.WorkingDirectory, "workflows"));
            var files = WorkflowScaffold.Files(workflowName, parse.GetRequiredValue(model))
                .Select(file => (Path: Path.Combine(folder.Root, file.RelativePath), file.Content))
                .ToList();
            if (!parse.GetValue(force) && files.Where(file => File.Exists(file.Path)).Select(file => console.DisplayPath(file.Path)).ToList() is { Count: > 0 } existing)
            {
                throw new UsageException($"Not overwriting {string.Join(", ", existing)} (use --force).");
            }

            foreach (var (path, content) in files)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await File.WriteAllTextAsync(path, content, cancellationToken);
                await console.Out.WriteLineAsync($"created {console.DisplayPath(path)}");
            }

            await console.Out.WriteLineAsync($"""

                Next:
                  llmwf validate {console.DisplayPath(files[0].Path)}
                  llmwf dry-run {workflowName}
                  llmwf run {workflowName} --mock
                Then set config.model to a real model (e.g. openrouter/anthropic/claude-3.5-sonnet) and `llmwf run {workflowName}`.
                """);
            return ExitCodes.Success;
        });
        return command;
    }

    [GeneratedRegex("^[a-z][a-z0-9_-]*$")]
    private static partial Regex WorkflowNamePattern();
}
