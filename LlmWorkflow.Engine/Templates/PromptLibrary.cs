using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Templates;

/// <summary>
/// Prompt templates stored as markdown files under one folder (<c>workflows/prompts/</c>), e.g.
/// <c>emergency-contacts/system.md</c>. A file may start with front matter (see <see cref="PromptFrontMatter"/>) and
/// may pull in shared text with <c>{{include:shared/safety.md}}</c> (relative to the folder, nested, cycles
/// rejected). Loaded templates are cached for the life of the library: deployments replace the process.
/// </summary>
public sealed class PromptLibrary
{
    private readonly ConcurrentDictionary<string, PromptTemplate> cache = new(StringComparer.Ordinal);
    private readonly IncludeExpander includes;

    // Full path -> text, or null when there is no such file: the disk, or a pinned version's snapshot.
    private readonly Func<string, string?> readFile;

    public PromptLibrary(string promptsRoot)
        : this(promptsRoot, path => File.Exists(path) ? File.ReadAllText(path) : null)
    {
    }

    private PromptLibrary(string promptsRoot, Func<string, string?> readFile)
    {
        PromptsRoot = Path.GetFullPath(promptsRoot);
        this.readFile = readFile;
        includes = new IncludeExpander(PromptsRoot,
            path => readFile(path) ?? throw new FileNotFoundException($"Prompt file {path} does not exist.", path),
            path => readFile(path) is not null);
    }

    /// <summary>
    /// A library over a snapshot of prompt files (relative path -> raw text, front matter included) rather than the
    /// disk: a pinned workflow version runs the prompts it was submitted with, whatever the folder holds now.
    /// </summary>
    public static PromptLibrary FromFiles(string promptsRoot, IReadOnlyDictionary<string, string> files)
    {
        var root = Path.GetFullPath(promptsRoot);
        return new PromptLibrary(root, path =>
            files.TryGetValue(IncludeExpander.NormalizePath(Path.GetRelativePath(root, path)), out var text) ? text : null);
    }

    /// <summary>
    /// The raw text of every prompt file <paramref name="paths"/> name and every file they or
    /// <paramref name="inlineTexts"/> include (recursively), keyed by relative path; missing files are left out (the
    /// validator reports them).
    /// </summary>
    public IReadOnlyDictionary<string, string> FilesUsed(IEnumerable<string> paths, IEnumerable<string> inlineTexts)
    {
        var used = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string? Record(string fullPath)
        {
            var text = readFile(fullPath);
            if (text is not null)
            {
                used[IncludeExpander.NormalizePath(Path.GetRelativePath(PromptsRoot, fullPath))] = text;
            }

            return text;
        }

        var recorder = new IncludeExpander(PromptsRoot, path => Record(path) ?? "", path => readFile(path) is not null);
        var ignored = new List<string>();
        foreach (var path in paths.Select(IncludeExpander.NormalizePath))
        {
            if (recorder.FullPath(path) is { } full && Record(full) is { } text)
            {
                PromptFrontMatterBody(text, path, recorder, ignored);
            }
        }

        foreach (var text in inlineTexts)
        {
            PromptFrontMatterBody(text, PromptTemplate.InlinePath, recorder, ignored);
        }

        return used;
    }

    private static void PromptFrontMatterBody(string text, string path, IncludeExpander recorder, List<string> problems)
    {
        try
        {
            PromptFrontMatter.Split(text, path, out var body);
            recorder.Expand(body, path, problems);
        }
        catch (WorkflowException)
        {
            // Bad front matter: the validator reports it; the file itself is recorded.
        }
    }

    public string PromptsRoot { get; }

    /// <summary>How messages name the folder: never the absolute path, which would tell API callers the server's layout.</summary>
    public const string FolderName = "workflows/prompts";

    /// <summary>
    /// The template at <paramref name="relativePath"/>, includes expanded and syntax checked. Throws a CONFIG_ERROR
    /// <c>invalid_prompt</c> for a missing file or include, a cycle, bad front matter or bad template syntax.
    /// </summary>
    public PromptTemplate Load(string relativePath)
    {
        var path = IncludeExpander.NormalizePath(relativePath);
        return cache.TryGetValue(path, out var cached) ? cached : cache.GetOrAdd(path, LoadUncached);
    }

    /// <summary>Every problem of the prompt (missing files and includes, cycles, front matter, syntax), without throwing.</summary>
    public IReadOnlyList<string> Check(string relativePath)
    {
        var path = IncludeExpander.NormalizePath(relativePath);
        var problems = new List<string>();
        var fullPath = includes.FullPath(path);
        if (fullPath is null || readFile(fullPath) is not { } text)
        {
            problems.Add(fullPath is null ? $"Prompt '{path}' is outside the prompts folder" : $"Prompt '{path}' does not exist in {FolderName}");
            return problems;
        }

        try
        {
            PromptFrontMatter.Split(text, path, out var body);
            var expanded = includes.Expand(body, path, problems);
            if (HandlebarsRenderer.SyntaxProblem(expanded) is { } syntax)
            {
                problems.Add($"Prompt '{path}': template syntax: {syntax}");
            }
        }
        catch (WorkflowException invalid)
        {
            problems.Add(invalid.Message);
        }

        return problems;
    }

    /// <summary>Loads and renders in one call.</summary>
    public string Render(string relativePath, JsonNode? variables) => Load(relativePath).Render(variables);

    /// <summary>An inline prompt whose <c>{{include:...}}</c> lines are resolved against this folder.</summary>
    public PromptTemplate FromText(string text)
    {
        var frontMatter = PromptFrontMatter.Split(text, PromptTemplate.InlinePath, out var body);
        return Compiled(new PromptTemplate(PromptTemplate.InlinePath, includes.Expand(body, PromptTemplate.InlinePath, problems: null), frontMatter));
    }

    private PromptTemplate LoadUncached(string path)
    {
        var fullPath = includes.FullPath(path)
            ?? throw WorkflowException.Config("invalid_prompt", $"Prompt '{path}' is outside the prompts folder");
        var text = readFile(fullPath)
            ?? throw WorkflowException.Config("invalid_prompt", $"Prompt '{path}' does not exist in {FolderName}", "Check the step's prompt_template path");
        var frontMatter = PromptFrontMatter.Split(text, path, out var body);
        return Compiled(new PromptTemplate(path, includes.Expand(body, path, problems: null), frontMatter));
    }

    /// <summary>Compiles now, so syntax errors surface when a prompt is loaded rather than at its first render.</summary>
    private static PromptTemplate Compiled(PromptTemplate template) =>
        HandlebarsRenderer.SyntaxProblem(template.Body) is { } syntax
            ? throw WorkflowException.Config("invalid_prompt", $"Prompt '{template.Path}': template syntax: {syntax}")
            : template;
}
