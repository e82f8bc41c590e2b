using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Cli.Commands;

/// <summary>
/// <c>upgrade &lt;file&gt;</c>: rewrites a definition in the original documents' shape (<c>config.config</c>,
/// <c>prompt_template</c>, <c>${steps.x.data}</c>, bare OpenRouter model ids) into this engine's shape and reports
/// every change with its JSON path. Key order is kept; the file is written only when something changed.
/// </summary>
internal static class UpgradeCommand
{
    public const string DefaultProviderVariable = "LLMWF_DEFAULT_PROVIDER";

    public static Command Create(CliConsole console)
    {
        var file = new Argument<string>("file") { Description = "The definition file to upgrade." };
        var workflows = CommonOptions.Workflows();
        workflows.Description = "The workflows folder whose pricing.json decides which bare model ids need a provider. Default: the nearest workflows/ above the file.";
        var defaultProvider = new Option<string?>("--default-provider")
        {
            Description = $"Provider that serves bare vendor/model ids such as anthropic/claude-3.5-sonnet (the documents' OpenRouter ids). Default: ${DefaultProviderVariable}, else openrouter.",
        };
        var output = new Option<string?>("--out", "-o") { Description = "Write the upgraded definition here instead of over the file." };
        var check = new Option<bool>("--check") { Description = "Only report what would change; exit 1 when something would (for CI)." };
        var command = new Command("upgrade", "Upgrade a definition written in the original documents' shape, reporting each change.")
        {
            file, workflows, defaultProvider, output, check,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = console.FullPath(parse.GetRequiredValue(file));
            if (!File.Exists(path))
            {
                throw new UsageException($"{parse.GetRequiredValue(file)}: no such file.");
            }

            JsonObject document;
            try
            {
                document = JsonNode.Parse(await File.ReadAllTextAsync(path, cancellationToken), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                    ?? throw new UsageException($"{console.DisplayPath(path)}: the file does not hold a JSON object.");
            }
            catch (JsonException ex)
            {
                throw new UsageException($"{console.DisplayPath(path)}: {JsonErrorText.Describe(ex)}");
            }

            var folder = parse.GetValue(workflows) is { } configured
                ? WorkflowsFolder.Find(configured, console.WorkingDirectory)
                : WorkflowsFolder.ForDefinitionFile(path) ?? WorkflowsFolder.Find(null, Path.GetDirectoryName(path)!);
            var provider = parse.GetValue(defaultProvider) ?? console.Environment(DefaultProviderVariable) ?? "openrouter";
            IReadOnlyList<DefinitionChange> changes;
            await using (var engine = LocalEngine.Create(folder, mock: false))
            {
                var upgrader = new DefinitionUpgrader(provider, engine.KnownProviders, id => engine.Prices.TryGetPrice(id, out _));
                changes = upgrader.Upgrade(document);
            }

            var shown = console.DisplayPath(path);
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

            var target = parse.GetValue(output) is { } outFile ? console.FullPath(outFile) : path;
            await File.WriteAllTextAsync(target, document.ToJsonString(CliJson.Indented) + "\n", cancellationToken);
            await console.Out.WriteLineAsync($"Upgraded {console.DisplayPath(target)}: {changes.Count} change(s). Next: llmwf validate {console.DisplayPath(target)}");
            return ExitCodes.Success;
        });
        return command;
    }
}
