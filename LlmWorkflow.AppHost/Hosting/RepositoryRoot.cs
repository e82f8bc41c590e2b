namespace LlmWorkflow.AppHost.Hosting;

/// <summary>Finds the repository (the directory holding <c>LlmWorkflow.sln</c>) that project paths are relative to.</summary>
public static class RepositoryRoot
{
    /// <summary>The solution file that marks the root.</summary>
    public const string SolutionFileName = "LlmWorkflow.sln";

    /// <summary>
    /// Walks up from each start directory in turn (by default the current directory, then the AppHost's own
    /// binaries, which covers <c>dotnet run</c> from anywhere) and returns the first directory with the solution.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No start directory lies inside the repository.</exception>
    public static string Find(params IReadOnlyList<string> startDirectories)
    {
        ArgumentNullException.ThrowIfNull(startDirectories);
        IReadOnlyList<string> starts = startDirectories.Count > 0
            ? startDirectories
            : [Directory.GetCurrentDirectory(), AppContext.BaseDirectory];
        foreach (var start in starts)
        {
            for (var directory = new DirectoryInfo(Path.GetFullPath(start)); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, SolutionFileName)))
                {
                    return directory.FullName;
                }
            }
        }

        throw new DirectoryNotFoundException(
            $"{SolutionFileName} was not found above {string.Join(" or ", starts)}; run the AppHost from inside the repository.");
    }
}
