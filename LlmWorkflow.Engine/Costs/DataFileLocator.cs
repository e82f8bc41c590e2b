namespace LlmWorkflow.Engine.Costs;

/// <summary>
/// Finds repository data files such as <c>workflows/pricing.json</c> whether the process runs from the repository
/// root (dotnet run) or from a build output folder (tests, published app with the folder copied beside it).
/// </summary>
internal static class DataFileLocator
{
    public static string? Find(string path)
    {
        if (Path.IsPathRooted(path))
        {
            return File.Exists(path) || Directory.Exists(path) ? path : null;
        }

        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, path);
                if (File.Exists(candidate) || Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
