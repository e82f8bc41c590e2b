using System.CommandLine;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Diagrams;

namespace LlmWorkflow.Cli.Commands;

/// <summary><c>diagram &lt;workflow&gt;</c>: the engine's deterministic Mermaid flowchart, raw or in a markdown page.</summary>
internal static class DiagramCommand
{
    public static Command Create(CliConsole console)
    {
        var workflow = CommonOptions.Workflow();
        var workflows = CommonOptions.Workflows();
        var format = new Option<string>("--format", "-f")
        {
            Description = "mermaid (the flowchart alone) or markdown (a page with a ```mermaid block, rendered by GitHub).",
            DefaultValueFactory = _ => "mermaid",
        };
        format.AcceptOnlyFromAmong("mermaid", "markdown");
        var output = new Option<string?>("--out", "-o") { Description = "Write to this file instead of standard output." };
        var command = new Command("diagram", "Draw a workflow as a Mermaid flowchart.") { workflow, workflows, format, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var reference = WorkflowReference.Resolve(parse.GetRequiredValue(workflow), parse.GetValue(workflows), console);
            var mermaid = MermaidDiagram.Generate(reference.Definition);
            var text = parse.GetValue(format) == "markdown" ? Markdown(reference, mermaid) : mermaid;
            if (parse.GetValue(output) is { } file)
            {
                var path = console.FullPath(file);
                await File.WriteAllTextAsync(path, text, cancellationToken);
                await console.Out.WriteLineAsync($"Wrote {console.DisplayPath(path)}");
            }
            else
            {
                await console.Out.WriteAsync(text);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static string Markdown(WorkflowReference reference, string mermaid)
    {
        var description = reference.Definition.Description is { Length: > 0 } text ? $"{text}\n\n" : "";
        return $"# {reference.Definition.Name}\n\n{description}```mermaid\n{mermaid.TrimEnd('\n')}\n```\n";
    }
}
