using System.Text;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Templates;

/// <summary>
/// Replaces <c>{{include:path}}</c> with the named file's body (front matter dropped), recursively, before
/// Handlebars sees the text (<c>include:</c> is not Handlebars syntax). Paths are relative to the prompts root and
/// may not leave it. A cycle fails with the cycle's path (<c>a.md -&gt; b.md -&gt; a.md</c>).
/// </summary>
internal sealed class IncludeExpander(string promptsRoot, Func<string, string> readFile, Func<string, bool>? fileExists = null)
{
    private const string Marker = "{{include:";

    /// <summary>
    /// Expands <paramref name="text"/> of <paramref name="path"/>. With <paramref name="problems"/>, every problem
    /// is recorded and expansion goes on; without, the first one throws a CONFIG_ERROR.
    /// </summary>
    public string Expand(string text, string path, List<string>? problems) => Expand(text, [path], problems);

    /// <summary>The full path of a prompt relative to the root, or null when it would leave the root.</summary>
    public string? FullPath(string relativePath)
    {
        var root = Path.GetFullPath(promptsRoot);
        var full = Path.GetFullPath(Path.Combine(root, relativePath));
        var relative = Path.GetRelativePath(root, full);
        var leavesRoot = relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative);
        return leavesRoot ? null : full;
    }

    private string Expand(string text, List<string> chain, List<string>? problems)
    {
        if (!text.Contains(Marker, StringComparison.Ordinal))
        {
            return text;
        }

        var builder = new StringBuilder();
        var pos = 0;
        while (true)
        {
            var start = text.IndexOf(Marker, pos, StringComparison.Ordinal);
            var end = start < 0 ? -1 : text.IndexOf("}}", start, StringComparison.Ordinal);
            if (end < 0)
            {
                builder.Append(text, pos, text.Length - pos);
                return builder.ToString();
            }

            builder.Append(text, pos, start - pos);
            var included = NormalizePath(text[(start + Marker.Length)..end].Trim());
            builder.Append(Include(included, chain, problems));
            pos = end + 2;
        }
    }

    private string Include(string included, List<string> chain, List<string>? problems)
    {
        var includer = chain[^1];
        if (chain.Contains(included, StringComparer.Ordinal))
        {
            return Fail($"Prompt include cycle: {string.Join(" -> ", chain)} -> {included}", problems);
        }

        var fullPath = FullPath(included);
        if (fullPath is null)
        {
            return Fail($"Prompt '{includer}' includes '{included}', which is outside the prompts folder", problems);
        }

        if (!(fileExists ?? File.Exists)(fullPath))
        {
            return Fail($"Prompt '{includer}' includes '{included}', which does not exist", problems);
        }

        string body;
        try
        {
            PromptFrontMatter.Split(readFile(fullPath), included, out body);
        }
        catch (WorkflowException invalid) when (problems is not null)
        {
            problems.Add(invalid.Message);
            return string.Empty;
        }

        return Expand(body.TrimEnd('\n'), [.. chain, included], problems);
    }

    public static string NormalizePath(string path) => path.Replace('\\', '/').TrimStart('/');

    private static string Fail(string message, List<string>? problems)
    {
        if (problems is null)
        {
            throw WorkflowException.Config("invalid_prompt", message);
        }

        problems.Add(message);
        return string.Empty;
    }
}
