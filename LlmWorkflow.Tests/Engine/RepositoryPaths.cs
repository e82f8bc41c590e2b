namespace LlmWorkflow.Tests.Engine;

/// <summary>Locates checked-in files (workflows, test data) from the test binaries by walking up to the solution.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string Workflows => Path.Combine(Root, "workflows");

    public static string Definitions => Path.Combine(Workflows, "definitions");

    public static string BrokenWorkflows => Path.Combine(Root, "LlmWorkflow.Tests", "Engine", "BrokenWorkflows");

    public static string TestPrompts => Path.Combine(Root, "LlmWorkflow.Tests", "Engine", "Prompts");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LlmWorkflow.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("LlmWorkflow.sln not found above " + AppContext.BaseDirectory);
    }
}
