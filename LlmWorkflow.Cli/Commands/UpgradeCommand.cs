using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Cli.Commands;

/// <summary>
/// <c>upgrade &lt;file&gt;</c>: rewrites a definition in the original documents' shape (<c>config.config</c>,
/// <c>prompt_template</c>, <c>${steps.x.data}</c>, bare OpenRouter model ids) into this engine's shape and reports
/// every change with its JSON path. A definition wrapped with its input (<c>{"workflow": …, "input_data": …}</c>) is
/// unwrapped: the file keeps the definition, the input becomes the workflow's example input. Key order is kept; the
/// file is written only when something changed, and the result is validated: "Upgraded" only when it validates.
/// </summary>
internal static class UpgradeCommand
{
    public const string DefaultProviderVariable = "LLMWF_DEFAULT_PROVIDER";

    private const string WrappedDefinition = "workflow";
    private const string WrappedInput = "input_data";

    public static Command Create(CliConsole console)
    {
        var file = new Argument<string>("file") { Description = "The definition file to upgrade." };
        var workflows = CommonOptions.Workflows();
        workflows.Description = "The workflows folder whose pricing.json decides which bare model ids need a provider, and whose prompts/ the result is validated with. Default: the nearest workflows/ above the file.";
        var defaultProvider = new Option<string?>("--default-provider")
        {
            Description = $"Provider that serves bare vendor/model ids such as anthropic/claude-3.5-sonnet (the documents' OpenRouter ids). Default: ${DefaultProviderVariable}, else openrouter.",
        };
        var output = new Option<string?>("--out", "-o") { Description = "Write the upgraded definition here instead of over the file." };
        var check = new Option<bool>("--check") { Description = "Only report what would change; exit 1 when something would (for CI)." };
        var command = new Command("upgrade", "Upgrade a definition written in the original documents' shape, reporting each change; exit 1 unless the result validates.")
        {
            file, workflows, defaultProvider, output, check,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = console.FullPath(parse.GetRequiredValue(file));
            var shown = console.DisplayPath(path);
            var document = await ReadAsync(path, parse.GetRequiredValue(file), console, cancellationToken);
            var folder = WorkflowReference.FolderFor(path, parse.GetValue(workflows), console);
            var provider = parse.GetValue(defaultProvider) ?? console.Environment(DefaultProviderVariable) ?? "openrouter";
            var target = parse.GetValue(output) is { } outFile ? console.FullPath(outFile) : path;
            await using var engine = LocalEngine.Create(folder, mock: false);

            var (definition, input, changes) = Unwrap(document, shown, target, folder, console);
            var upgrader = new DefinitionUpgrader(provider, engine.KnownProviders, id => engine.Prices.TryGetPrice(id, out _));
            var prefix = ReferenceEquals(definition, document) ? "$" : "$." + WrappedDefinition;
            changes.AddRange(upgrader.Upgrade(definition).Select(c => c with { JsonPath = prefix + c.JsonPath[1..] }));
            if (changes.Count == 0)
            {
                await console.Out.WriteLineAsync($"{shown}: already in this engine's shape; nothing to upgrade.");
                return ExitCodes.Success;
            }

            foreach (var change in changes)
            {
                await console.Out.WriteLineAsync($"{shown}:{change.JsonPath}: {change.Description}");
            }

            if (parse.GetValue(check))
            {
                await console.Out.WriteLineAsync($"{changes.Count} change(s) needed; run `llmwf upgrade {shown}` to apply them.");
                return ExitCodes.Failure;
            }

            var text = definition.ToJsonString(CliJson.Indented) + "\n";
            await File.WriteAllTextAsync(target, text, cancellationToken);
            if (input is { } example)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(example.Path)!);
                await File.WriteAllTextAsync(example.Path, example.Json, cancellationToken);
            }

            return await ReportAsync(engine, text, console.DisplayPath(target), changes.Count, console);
        });
        return command;
    }

    private static async Task<JsonObject> ReadAsync(string path, string given, CliConsole console, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new UsageException($"{given}: no such file.");
        }

        try
        {
            return JsonNode.Parse(await File.ReadAllTextAsync(path, cancellationToken), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new UsageException($"{console.DisplayPath(path)}: the file does not hold a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new UsageException($"{console.DisplayPath(path)}: {JsonErrorText.Describe(ex)}");
        }
    }

    /// <summary>
    /// The definition itself, or, for the wrapped form, <c>$.workflow</c> with <c>$.input_data</c> moved to the example
    /// input <c>run</c> and <c>dry-run</c> use (<c>workflows/examples/&lt;name&gt;.json</c>, else beside the file).
    /// Refuses other wrapper keys rather than dropping them.
    /// </summary>
    private static (JsonObject Definition, (string Path, string Json)? Input, List<DefinitionChange> Changes) Unwrap(
        JsonObject document, string shown, string target, WorkflowsFolder? folder, CliConsole console)
    {
        if (document[WrappedDefinition] is not JsonObject definition || document.ContainsKey("steps"))
        {
            return (document, null, []);
        }

        if (document.Select(p => p.Key).FirstOrDefault(k => k is not (WrappedDefinition or WrappedInput)) is { } other)
        {
            throw new UsageException($"{shown}:$.{other}: not part of a definition or its input. A definition file holds the workflow alone: move $.{WrappedDefinition} to a file of its own, or remove $.{other} and upgrade again.");
        }

        document.Remove(WrappedDefinition);
        var changes = new List<DefinitionChange> { new("$", $"unwrapped: the file now holds $.{WrappedDefinition} alone (a definition file holds the workflow only)") };
        if (document[WrappedInput] is not { } input)
        {
            return (definition, null, changes);
        }

        var name = definition["name"] is JsonValue value && value.TryGetValue<string>(out var text) ? text : Path.GetFileNameWithoutExtension(target);
        var examplePath = folder is not null ? Path.Combine(folder.Examples, name + ".json") : Path.ChangeExtension(target, ".input.json");
        var json = input.ToJsonString(CliJson.Indented) + "\n";
        if (File.Exists(examplePath) && File.ReadAllText(examplePath) != json)
        {
            throw new UsageException($"{shown}:$.{WrappedInput}: {console.DisplayPath(examplePath)} already holds another example input; move one of them away and upgrade again.");
        }

        changes.Add(new($"$.{WrappedInput}", $"moved to {console.DisplayPath(examplePath)} (the example input run and dry-run use)"));
        return (definition, (examplePath, json), changes);
    }

    /// <summary>Validates the written definition as <c>validate</c> would: "Upgraded" only when it has no problem left.</summary>
    private static async Task<int> ReportAsync(LocalEngine engine, string text, string shown, int changeCount, CliConsole console)
    {
        var loaded = WorkflowDefinitionLoader.Parse(text, shown);
        var found = loaded.Problems.ToList();
        if (loaded.Definition is { } definition && found.Count == 0)
        {
            found.AddRange(engine.Validator.Validate(definition, shown));
        }

        var problems = found.Where(p => !ValidateCommand.IsWarning(p)).ToList();
        foreach (var problem in problems)
        {
            await ValidateCommand.WriteAsync(problem, "error", console);
        }

        if (problems.Count > 0)
        {
            await console.Out.WriteLineAsync($"Wrote {shown} with {changeCount} change(s), but it does not validate yet: {problems.Count} problem(s) above that upgrade cannot fix. Fix them, then: llmwf validate {shown}");
            return ExitCodes.Failure;
        }

        var warnings = found.Count == 0 ? "" : $", with {found.Count} warning(s) about this machine";
        await console.Out.WriteLineAsync($"Upgraded {shown}: {changeCount} change(s); it validates{warnings}. Next: llmwf validate {shown}");
        return ExitCodes.Success;
    }
}
