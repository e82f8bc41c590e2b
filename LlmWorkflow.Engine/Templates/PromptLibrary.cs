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

    public PromptLibrary(string promptsRoot)
    {
        PromptsRoot = Path.GetFullPath(promptsRoot);
        includes = new IncludeExpander(PromptsRoot, File.ReadAllText);
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
        if (fullPath is null || !File.Exists(fullPath))
        {
            problems.Add(fullPath is null ? $"Prompt '{path}' is outside the prompts folder" : $"Prompt '{path}' does not exist in {FolderName}");
            return problems;
        }

        try
        {
            PromptFrontMatter.Split(File.ReadAllText(fullPath), path, out var body);
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
        if (!File.Exists(fullPath))
        {
            throw WorkflowException.Config("invalid_prompt", $"Prompt '{path}' does not exist in {FolderName}", "Check the step's prompt_template path");
        }

        var frontMatter = PromptFrontMatter.Split(File.ReadAllText(fullPath), path, out var body);
        return Compiled(new PromptTemplate(path, includes.Expand(body, path, problems: null), frontMatter));
    }

    /// <summary>Compiles now, so syntax errors surface when a prompt is loaded rather than at its first render.</summary>
    private static PromptTemplate Compiled(PromptTemplate template) =>
        HandlebarsRenderer.SyntaxProblem(template.Body) is { } syntax
            ? throw WorkflowException.Config("invalid_prompt", $"Prompt '{template.Path}': template syntax: {syntax}")
            : template;
}
