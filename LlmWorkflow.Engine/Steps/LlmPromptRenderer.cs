using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Templates;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Steps;

/// <summary>Turns an llm config into chat messages; shared by the llm step and the dry run.</summary>
internal static class LlmPromptRenderer
{
    /// <summary>The rendered messages and the front matter of the prompt file (or none).</summary>
    public sealed record RenderedPrompt(IReadOnlyList<ChatMessage> Messages, PromptFrontMatter FrontMatter);

    public static RenderedPrompt Render(LlmStepConfig config, PromptLibrary? prompts, JsonNode? variables)
    {
        var messages = new List<ChatMessage>();
        var system = config.SystemFile is { } systemFile ? Load(prompts, systemFile) : config.System is { } text ? Inline(prompts, text) : null;
        if (system is not null)
        {
            messages.Add(new ChatMessage(ChatRole.System, system.Render(variables)));
        }

        var frontMatter = PromptFrontMatter.None;
        if (config.Messages is { } templates)
        {
            messages.AddRange(templates.Select(m => new ChatMessage(new ChatRole(m.Role), Inline(prompts, m.Content).Render(variables))));
        }
        else
        {
            var user = config.PromptFile is { } file ? Load(prompts, file)
                : Inline(prompts, config.Prompt ?? throw WorkflowException.Config("invalid_step_config", "The llm step has no prompt, prompt_file or messages."));
            frontMatter = user.FrontMatter;
            messages.Add(new ChatMessage(ChatRole.User, user.Render(variables)));
        }

        return new RenderedPrompt(messages, frontMatter);
    }

    /// <summary>Inline text; with a library its {{include:...}} directives are expanded too.</summary>
    private static PromptTemplate Inline(PromptLibrary? prompts, string text) => prompts?.FromText(text) ?? PromptTemplate.FromText(text);

    private static PromptTemplate Load(PromptLibrary? prompts, string path) =>
        (prompts ?? throw WorkflowException.Config("prompts_not_configured", $"Prompt file \"{path}\" needs a prompt library.", "Configure the workflows/prompts directory.")).Load(path);
}
