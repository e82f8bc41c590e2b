namespace LlmWorkflow.Tests.Templates;

/// <summary>A prompts folder in the temp directory, deleted after the test.</summary>
internal sealed class TempPromptFolder : IDisposable
{
    public TempPromptFolder() => Directory.CreateDirectory(Root);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "llmwf-prompts-" + Guid.NewGuid().ToString("N"));

    public TempPromptFolder With(string relativePath, string content)
    {
        var path = Path.Combine(Root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return this;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
