using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Cli.Local;

/// <summary>A workflow named on the command line, found and parsed: its file, definition and workflows folder.</summary>
public sealed record WorkflowReference(string File, WorkflowDefinition Definition, WorkflowsFolder? Folder)
{
    /// <summary>
    /// Resolves <paramref name="nameOrPath"/>: a path to a <c>.json</c> file, or a workflow name looked up in the
    /// definitions of <paramref name="workflowsOption"/> or the <c>workflows/</c> folder above the working directory.
    /// Throws <see cref="UsageException"/> when it is not found or does not parse (message names file and JSON path).
    /// </summary>
    public static WorkflowReference Resolve(string nameOrPath, string? workflowsOption, CliConsole console)
    {
        var file = FindFile(nameOrPath, workflowsOption, console);
        var loaded = WorkflowDefinitionLoader.LoadFile(file);
        // A control-flow step without its required key loads (the validator names the key) but cannot run.
        var problems = loaded.Definition is { } loadedDefinition
            ? loaded.Problems.Concat(WorkflowWalker.Walk(loadedDefinition).SelectMany(l => WorkflowValidator.MissingControlFlowKeys(l.Step)
                .Select(key => new ValidationProblem(Path.GetFileName(file), $"{l.JsonPath}.config.{key}", ValidationCodes.MissingConfigProperty,
                    $"A {l.Step.Type} step needs \"{key}\" in its config.", "")))).ToList()
            : loaded.Problems.ToList();
        if (loaded.Definition is not { } definition || problems.Count > 0)
        {
            var where = console.DisplayPath(file);
            throw new UsageException(string.Join(Environment.NewLine,
                problems.Select(p => $"{where}:{p.JsonPath}: {p.Message}").Prepend($"{where} is not a valid workflow definition (run `llmwf validate {where}`):")));
        }

        return new WorkflowReference(file, definition, FolderFor(file, workflowsOption, console));
    }

    /// <summary>The workflows folder a definition file runs with (prompts, pricing, examples); validate uses the same.</summary>
    public static WorkflowsFolder? FolderFor(string file, string? workflowsOption, CliConsole console) =>
        workflowsOption is not null
            ? WorkflowsFolder.Find(workflowsOption, console.WorkingDirectory)
            : WorkflowsFolder.ForDefinitionFile(file) ?? WorkflowsFolder.Find(null, Path.GetDirectoryName(file)!);

    private static string FindFile(string nameOrPath, string? workflowsOption, CliConsole console)
    {
        if (LooksLikePath(nameOrPath))
        {
            var path = console.FullPath(nameOrPath);
            return System.IO.File.Exists(path) ? path : throw new UsageException($"{nameOrPath}: no such file.");
        }

        var folder = WorkflowsFolder.Find(workflowsOption, console.WorkingDirectory)
            ?? throw new UsageException($"Workflow \"{nameOrPath}\": no workflows/definitions folder above {console.WorkingDirectory}; pass --workflows <dir> or a path to the .json file.");
        var byFileName = Path.Combine(folder.Definitions, nameOrPath + ".json");
        if (System.IO.File.Exists(byFileName))
        {
            return byFileName;
        }

        // File names usually match workflow names, but the name inside the file is what counts.
        foreach (var candidate in Directory.EnumerateFiles(folder.Definitions, "*.json").Order(StringComparer.Ordinal))
        {
            if (WorkflowDefinitionLoader.LoadFile(candidate).Definition?.Name == nameOrPath)
            {
                return candidate;
            }
        }

        throw new UsageException($"Workflow \"{nameOrPath}\" is not in {console.DisplayPath(folder.Definitions)}. Known: {string.Join(", ", KnownNames(folder))}.");
    }

    private static bool LooksLikePath(string value) =>
        value.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || value.Contains('/') || value.Contains(Path.DirectorySeparatorChar);

    private static IEnumerable<string> KnownNames(WorkflowsFolder folder) =>
        Directory.EnumerateFiles(folder.Definitions, "*.json").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!;
}
