namespace LlmWorkflow.Engine.Llm;

/// <summary>The protocol a configured provider speaks.</summary>
public enum ProviderKind
{
    OpenAi,
    OpenRouter,
    OpenAiCompatible,
    Anthropic,
    Mock,
}
