using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// A scratch project folder with its own <c>workflows/</c> (definitions, prompts, examples, and the repository's
/// pricing file and schema), deleted afterwards.
/// </summary>
public sealed class TempWorkflows : IDisposable
{
    public TempWorkflows()
    {
        Root = Directory.CreateTempSubdirectory("llmwf-cli-").FullName;
        Directory.CreateDirectory(Definitions);
        System.IO.File.Copy(Path.Combine(RepositoryPaths.Workflows, "pricing.json"), Path.Combine(Workflows, "pricing.json"));
        System.IO.File.Copy(Path.Combine(RepositoryPaths.Workflows, "workflow.schema.json"), Path.Combine(Workflows, "workflow.schema.json"));
    }

    /// <summary>The project folder (the working directory of the commands under test).</summary>
    public string Root { get; }

    public string Workflows => Path.Combine(Root, "workflows");

    public string Definitions => Path.Combine(Workflows, "definitions");

    /// <summary>Writes <c>workflows/definitions/&lt;fileName&gt;</c> and returns its path.</summary>
    public string Definition(string fileName, string json)
    {
        var path = Path.Combine(Definitions, fileName);
        System.IO.File.WriteAllText(path, json);
        return path;
    }

    public string File(string relativePath, string content)
    {
        var path = Path.Combine(Root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
