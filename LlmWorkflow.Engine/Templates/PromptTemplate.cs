using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Templates;

/// <summary>
/// A prompt ready to render: its includes are expanded and its front matter is split off. <see cref="Render"/>
/// substitutes Handlebars syntax (<c>{{city}}</c>, <c>{{#if scenarios}}…{{/if}}</c>, <c>{{#each items}}…{{/each}}</c>)
/// from a JSON object of variables, without HTML escaping; objects and arrays print as compact JSON.
/// </summary>
/// <param name="Path">The prompt's path relative to the prompts root, or <c>&lt;inline&gt;</c>.</param>
/// <param name="Body">The text after front matter, with includes expanded.</param>
/// <param name="FrontMatter">Model settings declared by the file.</param>
public sealed record PromptTemplate(string Path, string Body, PromptFrontMatter FrontMatter)
{
    public const string InlinePath = "<inline>";

    /// <summary>SHA-256 of the body, for caching and audit.</summary>
    public string Hash => PromptHash.Compute(Body);

    /// <summary>
    /// A template from a step's inline <c>prompt</c> text (front matter allowed). Includes need a prompts folder:
    /// use <see cref="PromptLibrary.FromText"/> for text with <c>{{include:...}}</c>.
    /// </summary>
    public static PromptTemplate FromText(string text)
    {
        var frontMatter = PromptFrontMatter.Split(text, InlinePath, out var body);
        return body.Contains("{{include:", StringComparison.Ordinal)
            ? throw WorkflowException.Config("invalid_prompt", "An inline prompt uses {{include:...}}, which needs the prompts folder (PromptLibrary.FromText)")
            : new PromptTemplate(InlinePath, body, frontMatter);
    }

    /// <summary>
    /// Renders with the properties of <paramref name="variables"/> as names; a name the variables lack renders empty.
    /// </summary>
    public string Render(JsonNode? variables) => HandlebarsRenderer.Render(Path, Body, variables);
}
