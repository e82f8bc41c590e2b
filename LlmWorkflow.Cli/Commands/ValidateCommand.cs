using System.CommandLine;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Cli.Commands;

/// <summary><c>validate [paths...]</c>: the engine's validator over definition files and folders, for people and CI.</summary>
internal static class ValidateCommand
{
    public static Command Create(CliConsole console)
    {
        var paths = new Argument<string[]>("paths")
        {
            Description = "Definition files or folders of them. Default: workflows/definitions above the current directory.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var json = CommonOptions.Json("Print the result as JSON: {valid, files[], problems[{file, json_path, code, message, hint}]}.");
        var mock = CommonOptions.Mock();
        var workflows = CommonOptions.Workflows();
        workflows.Description = "The workflows folder whose prompts/ and pricing.json the definitions use, as `run --workflows` would. Default: per file, the workflows/ it sits in or the nearest above it.";
        mock.Description = "Check models as `run --mock` would use them: no provider API keys needed (CI without secrets).";
        var command = new Command("validate", "Check workflow definitions: structure, references, transforms, prompt files, models and prices. Exit 1 when any problem is found.")
        {
            paths, json, mock, workflows,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var files = DefinitionFiles(parse.GetValue(paths) ?? [], parse.GetValue(workflows), console);
            var report = await CheckAsync(files, parse.GetValue(mock), parse.GetValue(workflows), console);
            if (parse.GetValue(json))
            {
                await console.Out.WriteLineAsync(report.ToJson().ToJsonString(CliJson.Indented));
            }
            else
            {
                await WriteHumanAsync(report, console);
            }

            return report.Problems.Count == 0 ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }

    private static List<string> DefinitionFiles(string[] paths, string? workflowsOption, CliConsole console)
    {
        if (paths.Length == 0)
        {
            var folder = WorkflowsFolder.Find(workflowsOption, console.WorkingDirectory)
                ?? throw new UsageException($"No workflows/definitions folder above {console.WorkingDirectory}; name the files or folders to check.");
            paths = [folder.Definitions];
        }

        var files = new List<string>();
        foreach (var path in paths)
        {
            var full = console.FullPath(path);
            if (File.Exists(full))
            {
                files.Add(full);
            }
            else if (Directory.Exists(full))
            {
                // A workflows/ root means its definitions.
                var definitions = Path.Combine(full, "definitions");
                files.AddRange(Directory.EnumerateFiles(Directory.Exists(definitions) ? definitions : full, "*.json").Order(StringComparer.Ordinal));
            }
            else
            {
                throw new UsageException($"{path}: no such file or folder.");
            }
        }

        return files;
    }

    private static async Task<ValidationReport> CheckAsync(List<string> files, bool mock, string? workflowsOption, CliConsole console)
    {
        var engines = new Dictionary<string, LocalEngine>(StringComparer.Ordinal);
        var report = new ValidationReport();
        var firstFileByName = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            foreach (var file in files)
            {
                var shown = console.DisplayPath(file);
                var loaded = WorkflowDefinitionLoader.LoadFile(file);
                var problems = loaded.Problems.Select(p => p with { File = shown }).ToList();
                if (loaded.Definition is { } definition)
                {
                    // The same folder `run` would use for this file: its prompts and pricing.
                    var folder = WorkflowReference.FolderFor(file, workflowsOption, console);
                    var key = folder?.Root ?? "";
                    if (!engines.TryGetValue(key, out var engine))
                    {
                        engines[key] = engine = LocalEngine.Create(folder, mock);
                    }

                    problems.AddRange(engine.Validator.Validate(definition, shown));
                    if (!firstFileByName.TryAdd(definition.Name, shown))
                    {
                        problems.Add(new(shown, "$.name", ValidationCodes.DuplicateWorkflowName,
                            $"Workflow name \"{definition.Name}\" is also used by {firstFileByName[definition.Name]}.", "Give every workflow a unique name."));
                    }
                }

                report.Add(shown, loaded.Definition?.Name, problems);
            }
        }
        finally
        {
            foreach (var engine in engines.Values)
            {
                await engine.DisposeAsync();
            }
        }

        return report;
    }

    private static async Task WriteHumanAsync(ValidationReport report, CliConsole console)
    {
        foreach (var problem in report.Problems)
        {
            await console.Out.WriteLineAsync($"{problem.File}:{problem.JsonPath}: error {problem.Code}: {problem.Message}");
            await console.Out.WriteLineAsync($"    hint: {problem.Hint}");
        }

        var failed = report.Files.Count(f => f.Problems > 0);
        await console.Out.WriteLineAsync(report.Problems.Count == 0
            ? $"OK: {report.Files.Count} workflow file(s) valid."
            : $"FAILED: {report.Problems.Count} problem(s) in {failed} of {report.Files.Count} file(s).");
    }

    /// <summary>The files checked and every problem found.</summary>
    private sealed class ValidationReport
    {
        public List<(string File, string? Workflow, int Problems)> Files { get; } = [];

        public List<ValidationProblem> Problems { get; } = [];

        public void Add(string file, string? workflow, List<ValidationProblem> problems)
        {
            Files.Add((file, workflow, problems.Count));
            Problems.AddRange(problems);
        }

        public JsonObject ToJson() => new()
        {
            ["valid"] = Problems.Count == 0,
            ["files"] = new JsonArray([.. Files.Select(f => new JsonObject
            {
                ["file"] = f.File,
                ["workflow"] = f.Workflow,
                ["valid"] = f.Problems == 0,
                ["problem_count"] = f.Problems,
            })]),
            ["problems"] = new JsonArray([.. Problems.Select(p => new JsonObject
            {
                ["file"] = p.File,
                ["json_path"] = p.JsonPath,
                ["code"] = p.Code,
                ["message"] = p.Message,
                ["hint"] = p.Hint,
            })]),
        };
    }
}
