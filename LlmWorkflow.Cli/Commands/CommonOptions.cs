using System.CommandLine;

namespace LlmWorkflow.Cli.Commands;

/// <summary>Options several commands share, created fresh per command (a System.CommandLine symbol has one parent).</summary>
internal static class CommonOptions
{
    public static Option<string?> Workflows() => new("--workflows")
    {
        Description = "The workflows folder (definitions/, prompts/, examples/, pricing.json). Default: the nearest workflows/ above the current directory.",
    };

    public static Option<bool> Json(string description) => new("--json") { Description = description };

    public static Argument<string> Workflow() => new("workflow")
    {
        Description = "A workflow name (looked up in workflows/definitions) or a path to its .json file.",
    };

    public static Option<string?> Input() => new("--input", "-i")
    {
        Description = "Input data: a JSON file or inline JSON. Default: workflows/examples/<name>.json when present, else {}.",
    };

    public static Option<bool> Mock() => new("--mock")
    {
        Description = "Answer every model with the offline mock provider: no API keys, no network, no cost.",
    };
}
