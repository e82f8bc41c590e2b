using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// Requirement document 001 as it was given (Documents/001_b973d9d97da91164.txt, a byte-for-byte copy of the seed), so
/// tests use its example exactly as printed rather than a hand-copied, possibly corrected version.
/// </summary>
public static class Document001
{
    private static readonly string File = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Cli", "Documents", "001_b973d9d97da91164.txt");

    /// <summary>"Workflow System / Quick Example": the json block after the <c>**Quick Example:**</c> line.</summary>
    public static string QuickExample
    {
        get
        {
            var text = System.IO.File.ReadAllText(File);
            var heading = text.IndexOf("**Quick Example:**", StringComparison.Ordinal);
            var open = text.IndexOf("```json\n", heading, StringComparison.Ordinal) + "```json\n".Length;
            var close = text.IndexOf("```", open, StringComparison.Ordinal);
            Assert.True(heading >= 0 && open > heading && close > open, "Document 001 no longer has its Quick Example.");
            return text[open..close];
        }
    }
}
