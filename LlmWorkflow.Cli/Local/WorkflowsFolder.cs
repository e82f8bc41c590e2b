namespace LlmWorkflow.Cli.Local;

/// <summary>The <c>workflows/</c> folder: definitions, prompts, examples, pricing and canned mock answers.</summary>
public sealed record WorkflowsFolder(string Root)
{
    public string Definitions => Path.Combine(Root, "definitions");

    public string Prompts => Path.Combine(Root, "prompts");

    public string Examples => Path.Combine(Root, "examples");

    public string Pricing => Path.Combine(Root, "pricing.json");

    public string MockResponses => Path.Combine(Root, "mock-responses");

    /// <summary>
    /// <paramref name="configured"/> (<c>--workflows</c>) when given, else the nearest <c>workflows/definitions</c>
    /// walking up from <paramref name="start"/>; null when there is none.
    /// </summary>
    public static WorkflowsFolder? Find(string? configured, string start)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            var full = Path.GetFullPath(configured, start);
            return Directory.Exists(full)
                ? new WorkflowsFolder(full)
                : throw new UsageException($"--workflows {configured}: the folder does not exist.");
        }

        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "workflows");
            if (Directory.Exists(Path.Combine(candidate, "definitions")))
            {
                return new WorkflowsFolder(candidate);
            }
        }

        return null;
    }

    /// <summary>The folder a definition file belongs to: <c>workflows/</c> when it sits in <c>workflows/definitions/</c>.</summary>
    public static WorkflowsFolder? ForDefinitionFile(string file) =>
        Path.GetDirectoryName(file) is { } directory && Path.GetFileName(directory) == "definitions" && Path.GetDirectoryName(directory) is { } root
            ? new WorkflowsFolder(root)
            : null;
}
