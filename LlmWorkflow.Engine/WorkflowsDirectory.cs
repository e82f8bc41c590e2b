namespace LlmWorkflow.Engine;

/// <summary>
/// Locates the <c>workflows/</c> folder (definitions, prompts, pricing): the configured path, else the nearest
/// <c>workflows/definitions</c> found walking up from the working directory or the application's base directory.
/// </summary>
public static class WorkflowsDirectory
{
    public static string Resolve(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            var full = Path.GetFullPath(configured);
            return Directory.Exists(full)
                ? full
                : throw new DirectoryNotFoundException($"Workflows:Root is set to '{configured}', which does not exist.");
        }

        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "workflows");
                if (Directory.Exists(Path.Combine(candidate, "definitions")))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException(
            "Could not find a 'workflows/definitions' folder above the working directory; set Workflows:Root.");
    }
}
