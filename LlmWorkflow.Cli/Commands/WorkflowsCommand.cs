using System.CommandLine;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Definitions;
using Spectre.Console;

namespace LlmWorkflow.Cli.Commands;

/// <summary>
/// <c>workflows</c>: the workflows a service offers (<c>GET /api/v1/workflows</c>), or with <c>--local</c> the
/// definitions in the local workflows folder, as name, version, steps and description.
/// </summary>
internal static class WorkflowsCommand
{
    public static Command Create(CliConsole console)
    {
        var local = new Option<bool>("--local") { Description = "List workflows/definitions on this machine instead of asking the service." };
        var workflows = CommonOptions.Workflows();
        var json = CommonOptions.Json("Print [{name, version, description, step_count}] as JSON.");
        var service = new ServiceOptions();
        var command = new Command("workflows", "List the workflows of the service (or, with --local, of the workflows folder).") { local, workflows, json };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            JsonArray list;
            if (parse.GetValue(local))
            {
                list = LocalList(parse.GetValue(workflows), console);
            }
            else
            {
                using var client = service.Connect(parse, console);
                list = await client.ListWorkflowsAsync(cancellationToken);
            }

            if (parse.GetValue(json))
            {
                await console.Out.WriteLineAsync(list.ToJsonString(CliJson.Indented));
            }
            else
            {
                console.Ansi.Write(Table(list));
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static JsonArray LocalList(string? workflowsOption, CliConsole console)
    {
        var folder = WorkflowsFolder.Find(workflowsOption, console.WorkingDirectory)
            ?? throw new UsageException($"No workflows/definitions folder above {console.WorkingDirectory}; pass --workflows <dir>.");
        var list = new JsonArray();
        foreach (var file in Directory.EnumerateFiles(folder.Definitions, "*.json").Order(StringComparer.Ordinal))
        {
            var loaded = WorkflowDefinitionLoader.LoadFile(file);
            list.Add(loaded.Definition is { } definition
                ? new JsonObject
                {
                    ["name"] = definition.Name,
                    ["version"] = definition.Version,
                    ["description"] = definition.Description,
                    ["step_count"] = definition.Steps.Count,
                    ["file"] = console.DisplayPath(file),
                }
                : new JsonObject
                {
                    ["name"] = Path.GetFileNameWithoutExtension(file),
                    ["description"] = $"does not load: run `llmwf validate {console.DisplayPath(file)}`",
                    ["file"] = console.DisplayPath(file),
                });
        }

        return list;
    }

    private static Table Table(JsonArray list)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"{list.Count} workflows")
            .AddColumn(new TableColumn("Name").NoWrap()).AddColumn("Version").AddColumn(new TableColumn("Steps").RightAligned()).AddColumn("Description");
        foreach (var workflow in list.OfType<JsonObject>())
        {
            table.AddRow(
                Markup.Escape((string?)workflow["name"] ?? "?"),
                Markup.Escape((string?)workflow["version"] ?? "-"),
                ((int?)(workflow["step_count"] ?? workflow["stepCount"]))?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-",
                Markup.Escape(FirstSentence((string?)workflow["description"] ?? "")));
        }

        return table;
    }

    /// <summary>Descriptions can be a paragraph; the table shows the first sentence.</summary>
    private static string FirstSentence(string text)
    {
        var end = text.IndexOf(". ", StringComparison.Ordinal);
        return end > 0 ? text[..(end + 1)] : text;
    }
}
