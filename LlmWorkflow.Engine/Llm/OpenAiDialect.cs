namespace LlmWorkflow.Engine.Llm;

/// <summary>Which flavour of the OpenAI chat completions API an endpoint speaks.</summary>
internal enum OpenAiDialect
{
    /// <summary>api.openai.com: <c>max_completion_tokens</c>.</summary>
    OpenAi,

    /// <summary>OpenRouter: <c>max_tokens</c>, attribution headers, <c>usage.include</c> for the reported cost.</summary>
    OpenRouter,

    /// <summary>Ollama, vLLM, llama.cpp, LM Studio and other compatible servers: <c>max_tokens</c>.</summary>
    Compatible,
}
