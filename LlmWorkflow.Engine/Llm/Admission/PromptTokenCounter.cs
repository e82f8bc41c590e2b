using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// Counts a prompt's tokens with the model's own tokenizer where one is known (OpenAI's o200k_base and cl100k_base,
/// from Microsoft.ML.Tokenizers' data packages), else about four characters a token. Chat framing adds
/// <see cref="TokensPerMessage"/> per message and <see cref="TokensPerReply"/> once, as OpenAI documents.
/// </summary>
public static class PromptTokenCounter
{
    public const int TokensPerMessage = 3;
    public const int TokensPerReply = 3;

    // One tokenizer per encoding (they are large and thread-safe); null = no known tokenizer for the model.
    private static readonly ConcurrentDictionary<string, Tokenizer?> ByModel = new(StringComparer.OrdinalIgnoreCase);

    public static int Count(ModelId model, IReadOnlyList<ChatMessage> messages)
    {
        var tokenizer = TokenizerFor(model.Model);
        var framing = TokensPerReply + (messages.Count * TokensPerMessage);
        return framing + messages.Sum(m => tokenizer is null ? TokenEstimator.Estimate(m.Text) : tokenizer.CountTokens(m.Text ?? string.Empty));
    }

    /// <summary>The model's tokenizer, or null when the model is not one the tokenizer data covers.</summary>
    public static Tokenizer? TokenizerFor(string model)
    {
        // OpenRouter's openai/gpt-4o is OpenAI's gpt-4o.
        var name = model[(model.LastIndexOf('/') + 1)..];
        return ByModel.GetOrAdd(name, static n =>
        {
            try
            {
                return TiktokenTokenizer.CreateForModel(n);
            }
            catch (Exception ex) when (ex is NotSupportedException or ArgumentException or InvalidOperationException or FileNotFoundException)
            {
                return null;
            }
        });
    }
}
