using System.CommandLine;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Cli.Commands;

/// <summary>
/// <c>validate [paths...]</c>: the engine's validator over definition files and folders, for people and CI. A missing
/// provider key is a fact about this machine, not about the definition: it is a warning, which fails only with --strict.
/// </summary>
internal static class ValidateCommand
{
    /// <summary>What to do about a warning: the definition is fine; this machine only cannot call the model yet.</summary>
    public const string MissingKeyHint =
        "The definition is fine; this machine only has no key for that provider. Offline, `llmwf run --mock` (or the service "
        + "with Llm__Mock__ServeAllModels=true) answers every model with the mock provider; export the key to call the model "
        + "for real. `--strict` fails on this (a deployment's CI, where the keys must be set).";

    /// <summary>Codes about this machine rather than the definition: reported as warnings.</summary>
    private static readonly HashSet<string> MachineCodes = [ValidationCodes.MissingProviderKey];

    public static Command Create(CliConsole console)
    {
        var paths = new Argument<string[]>("paths")
        {
            Description = "Definition files or folders of them. Default: workflows/definitions above the current directory.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var json = CommonOptions.Json("Print the result as JSON: {valid, files[], problems[{file, json_path, code, message, hint}], warnings[same shape]}.");
        var strict = new Option<bool>("--strict") { Description = "Warnings fail too (exit 1): a provider key missing on this machine. For a deployment's CI, where the keys must be set." };
        var mock = CommonOptions.Mock();
        var workflows = CommonOptions.Workflows();
        workflows.Description = "The workflows folder whose prompts/ and pricing.json the definitions use, as `run --workflows` would. Default: per file, the workflows/ it sits in or the nearest above it.";
        mock.Description = "Check models as `run --mock` would use them: no provider API keys needed (CI without secrets).";
        var command = new Command("validate", "Check workflow definitions: structure, references, transforms, prompt files, models and prices. Exit 1 when any problem is found; a missing provider key is a warning (exit 1 only with --strict).")
        {
            paths, json, mock, workflows, strict,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var files = DefinitionFiles(parse.GetValue(paths) ?? [], parse.GetValue(workflows), console);
            var report = await CheckAsync(files, parse.GetValue(mock), parse.GetValue(workflows), console);
            report.Strict = parse.GetValue(strict);
            if (parse.GetValue(json))
            {
                await console.Out.WriteLineAsync(report.ToJson().ToJsonString(CliJson.Indented));
            }
            else
            {
                await WriteHumanAsync(report, console);
            }

            return report.Valid ? ExitCodes.Success : ExitCodes.Failure;
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
                var problems = loaded.Problems.Select(p => p with { File = shown, Hint = p.JsonPath == "$.workflow" ? WrappedHint(shown) : p.Hint }).ToList();
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

    /// <summary>A definition wrapped with its input, as in a request body: <c>upgrade</c> unwraps it.</summary>
    private static string WrappedHint(string shown) =>
        $"A definition file holds the workflow alone; this one looks wrapped with its input ({{\"workflow\": …, \"input_data\": …}}): `llmwf upgrade {shown}` unwraps it.";

    /// <summary>Whether <paramref name="problem"/> is about this machine (a warning) rather than the definition.</summary>
    public static bool IsWarning(ValidationProblem problem) => MachineCodes.Contains(problem.Code);

    /// <summary>One problem as <c>file:jsonpath: error|warning code: message</c> and its hint.</summary>
    public static async Task WriteAsync(ValidationProblem problem, string severity, CliConsole console, bool showHint = true)
    {
        await console.Out.WriteLineAsync($"{problem.File}:{problem.JsonPath}: {severity} {problem.Code}: {problem.Message}");
        if (showHint)
        {
            await console.Out.WriteLineAsync($"    hint: {problem.Hint}");
        }
    }

    private static async Task WriteHumanAsync(ValidationReport report, CliConsole console)
    {
        // The warnings' hint is the same for every missing key: shown once.
        var hintShown = false;
        foreach (var (severity, problem) in report.Problems.Select(p => ("error", p)).Concat(report.Warnings.Select(w => ("warning", w))).OrderBy(p => report.FileIndex(p.Item2.File)))
        {
            var warning = severity == "warning";
            await WriteAsync(problem, severity, console, showHint: !warning || !hintShown);
            hintShown |= warning;
        }

        var warnings = report.Warnings.Count == 0 ? "" : $", {report.Warnings.Count} warning(s)";
        var failed = report.Files.Count(f => f.Problems > 0 || (report.Strict && f.Warnings > 0));
        await console.Out.WriteLineAsync(report.Valid
            ? $"OK: {report.Files.Count} workflow file(s) valid{warnings}."
            : $"FAILED: {report.Problems.Count} problem(s){warnings}{(report.Strict && report.Warnings.Count > 0 ? " (--strict: warnings fail)" : "")} in {failed} of {report.Files.Count} file(s).");
    }

    /// <summary>The files checked, every problem found, and the warnings (about this machine).</summary>
    private sealed class ValidationReport
    {
        public List<(string File, string? Workflow, int Problems, int Warnings)> Files { get; } = [];

        public List<ValidationProblem> Problems { get; } = [];

        public List<ValidationProblem> Warnings { get; } = [];

        public bool Strict { get; set; }

        public bool Valid => Problems.Count == 0 && (!Strict || Warnings.Count == 0);

        public int FileIndex(string file) => Files.FindIndex(f => f.File == file);

        public void Add(string file, string? workflow, List<ValidationProblem> found)
        {
            var warnings = found.Where(IsWarning).Select(p => p with { Hint = MissingKeyHint }).ToList();
            var problems = found.Where(p => !IsWarning(p)).ToList();
            Files.Add((file, workflow, problems.Count, warnings.Count));
            Problems.AddRange(problems);
            Warnings.AddRange(warnings);
        }

        public JsonObject ToJson() => new()
        {
            ["valid"] = Valid,
            ["files"] = new JsonArray([.. Files.Select(f => new JsonObject
            {
                ["file"] = f.File,
                ["workflow"] = f.Workflow,
                ["valid"] = f.Problems == 0 && (!Strict || f.Warnings == 0),
                ["problem_count"] = f.Problems,
                ["warning_count"] = f.Warnings,
            })]),
            ["problems"] = ToJson(Problems),
            ["warnings"] = ToJson(Warnings),
        };

        private static JsonArray ToJson(List<ValidationProblem> problems) => new([.. problems.Select(p => new JsonObject
        {
            ["file"] = p.File,
            ["json_path"] = p.JsonPath,
            ["code"] = p.Code,
            ["message"] = p.Message,
            ["hint"] = p.Hint,
        })]);
    }
}
