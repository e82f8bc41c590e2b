using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AiFinishReason = Microsoft.Extensions.AI.ChatFinishReason;
using OpenAiChatMessage = OpenAI.Chat.ChatMessage;
using OpenAiFinishReason = OpenAI.Chat.ChatFinishReason;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Thin <see cref="IChatClient"/> over the official OpenAI SDK's <see cref="ChatClient"/>, for OpenAI, OpenRouter and
/// any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, LM Studio). Text chat, and function calling for the agent step.
/// </summary>
internal sealed class OpenAiCompatibleChatClient(ChatClient client, OpenAiDialect dialect, ChatClientMetadata metadata) : IChatClient
{
    public async Task<ChatResponse> GetResponseAsync(
        IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var result = await client.CompleteChatAsync(ToOpenAi(messages), ToOpenAi(options), cancellationToken).ConfigureAwait(false);
        var completion = result.Value;
        var answer = new AiChatMessage(ChatRole.Assistant, string.Concat(completion.Content.Select(part => part.Text)));
        foreach (var call in OpenAiToolMapping.ToolCalls(completion))
        {
            answer.Contents.Add(call);
        }

#pragma warning disable OPENAI001 // service_tier of the answer is marked experimental in the SDK; it is what flex is billed by.
        return new ChatResponse(answer)
        {
            ResponseId = completion.Id,
            ModelId = completion.Model,
            CreatedAt = completion.CreatedAt,
            FinishReason = ToAi(completion.FinishReason),
            Usage = completion.Usage is { } usage ? ToAi(usage) : null,
            AdditionalProperties = Billing(completion.Usage, completion.ServiceTier?.ToString()),
        };
#pragma warning restore OPENAI001
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<AiChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // The SDK asks for stream_options.include_usage, so the last chunk carries the usage.
        var updates = client.CompleteChatStreamingAsync(ToOpenAi(messages), ToOpenAi(options), cancellationToken);
        var toolCalls = new OpenAiStreamedToolCalls();
        await foreach (var update in updates.ConfigureAwait(false))
        {
            List<AIContent> contents = [.. toolCalls.CompletedBy(update)];
            foreach (var part in update.ContentUpdate)
            {
                if (!string.IsNullOrEmpty(part.Text))
                {
                    contents.Add(new TextContent(part.Text));
                }
            }

            if (update.Usage is { } usage)
            {
                contents.Add(new UsageContent(ToAi(usage)));
            }

#pragma warning disable OPENAI001 // see GetResponseAsync
            yield return new ChatResponseUpdate(ChatRole.Assistant, contents)
            {
                ResponseId = update.CompletionId,
                ModelId = update.Model,
                FinishReason = update.FinishReason is { } reason ? ToAi(reason) : null,
                AdditionalProperties = Billing(update.Usage, update.ServiceTier?.ToString()),
            };
#pragma warning restore OPENAI001
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? metadata
        : serviceType.IsInstanceOfType(client) ? client
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        // The SDK client owns nothing disposable; the shared HttpClient belongs to the provider registry.
    }

    private ChatCompletionOptions ToOpenAi(ChatOptions? options)
    {
        var result = new ChatCompletionOptions { Temperature = options?.Temperature };
        OpenAiToolMapping.AddTools(options, result);
        if (options?.ResponseFormat is ChatResponseFormatJson { Schema: { } schema } withSchema)
        {
            // The provider enforces the schema itself; strict only where the schema meets OpenAI's strict rules (it
            // refuses others as strict), the step's own validation applies either way.
            result.ResponseFormat = OpenAI.Chat.ChatResponseFormat.CreateJsonSchemaFormat(
                withSchema.SchemaName ?? "answer",
                BinaryData.FromString(schema.GetRawText()),
                withSchema.SchemaDescription,
                jsonSchemaIsStrict: StructuredOutput.StrictSchema.IsCompatible(schema));
        }
        else if (options?.ResponseFormat is ChatResponseFormatJson)
        {
            result.ResponseFormat = OpenAI.Chat.ChatResponseFormat.CreateJsonObjectFormat();
        }

#pragma warning disable SCME0001 // JsonPatch is the SDK's way to send fields it does not model.
        if (options?.MaxOutputTokens is { } maxTokens)
        {
            // OpenAI renamed max_tokens to max_completion_tokens; compatible servers still expect the old name.
            if (dialect == OpenAiDialect.OpenAi)
            {
                result.MaxOutputTokenCount = maxTokens;
            }
            else
            {
                result.Patch.Set("$.max_tokens"u8, maxTokens);
            }
        }

        if (ServiceTiers.Requested(options) is { } serviceTier)
        {
            // The gateway asks for a tier only of providers that offer it (ResolvedProvider.SupportsFlex).
            result.Patch.Set("$.service_tier"u8, serviceTier);
        }

        if (dialect == OpenAiDialect.OpenRouter)
        {
            // Asks OpenRouter to report the call's real cost in usage.cost.
            result.Patch.Set("$.usage"u8, BinaryData.FromString("""{"include":true}"""));
        }
#pragma warning restore SCME0001

        return result;
    }

    private static List<OpenAiChatMessage> ToOpenAi(IEnumerable<AiChatMessage> messages) => [.. messages.SelectMany(OpenAiToolMapping.ToOpenAi)];

    private static UsageDetails ToAi(ChatTokenUsage usage) => new()
    {
        InputTokenCount = usage.InputTokenCount,
        OutputTokenCount = usage.OutputTokenCount,
        TotalTokenCount = usage.TotalTokenCount,
        CachedInputTokenCount = usage.InputTokenDetails?.CachedTokenCount,
    };

    private static AiFinishReason ToAi(OpenAiFinishReason reason) => reason switch
    {
        OpenAiFinishReason.Length => AiFinishReason.Length,
        OpenAiFinishReason.ContentFilter => AiFinishReason.ContentFilter,
        OpenAiFinishReason.ToolCalls or OpenAiFinishReason.FunctionCall => AiFinishReason.ToolCalls,
        _ => AiFinishReason.Stop,
    };

    /// <summary>What the answer says it was billed: OpenRouter's reported cost and the tier that served it; null when neither.</summary>
    private AdditionalPropertiesDictionary? Billing(ChatTokenUsage? usage, string? answeredTier)
    {
        AdditionalPropertiesDictionary? properties = null;
        if (ReportedCost(usage) is { } cost)
        {
            ProviderCost.Set(ref properties, cost);
        }

        if (answeredTier is not null)
        {
            ServiceTiers.SetAnswered(ref properties, answeredTier);
        }

        return properties;
    }

    private decimal? ReportedCost(ChatTokenUsage? usage)
    {
#pragma warning disable SCME0001 // usage.cost is an OpenRouter extension the SDK keeps in the patch.
        return dialect == OpenAiDialect.OpenRouter && usage is not null && usage.Patch.TryGetValue("$.cost"u8, out decimal cost)
            ? cost
            : null;
#pragma warning restore SCME0001
    }
}
