namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>Paths inside the repository, found from the test assembly's location.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string Workflows => Path.Combine(Root, "workflows");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmWorkflow.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("LlmWorkflow.sln not found above " + AppContext.BaseDirectory);
    }
}
