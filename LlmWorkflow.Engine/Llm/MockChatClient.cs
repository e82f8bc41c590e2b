using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// The offline, deterministic <c>mock</c> provider. Models: <c>mock/echo</c> (the last user message),
/// <c>mock/lorem</c> or <c>mock/lorem-N</c> (N tokens of fixed text), <c>mock/json</c> (a JSON object built from the
/// prompt); any other name answers with a short echo, or JSON when JSON was asked for. A canned answer for the
/// workflow and step wins over all of them. Token counts are characters / 4.
/// </summary>
internal sealed class MockChatClient(MockProviderOptions options, MockResponseStore cannedResponses) : IChatClient
{
    /// <summary>ChatOptions.AdditionalProperties keys through which the gateway names the workflow and step.</summary>
    public const string WorkflowProperty = "workflow_name";
    public const string StepProperty = "step_id";

    private const int WordsPerChunk = 4;

    private static readonly string[] LoremWords =
        "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua"
            .Split(' ');

    private static readonly ChatClientMetadata Metadata = new("mock");

    public async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var prompt = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        if (ScriptedAgentTurn(prompt, options) is { } scripted)
        {
            await SimulateLatency(1, cancellationToken).ConfigureAwait(false);
            return scripted;
        }

        var text = Answer(prompt, options);
        await SimulateLatency(1, cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = options?.ModelId,
            FinishReason = ChatFinishReason.Stop,
            Usage = Usage(prompt, text),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var prompt = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        if (ScriptedAgentTurn(prompt, options) is { } scripted)
        {
            // A streamed agent turn: its text in chunks, then its tool calls and usage, as providers stream them.
            var scriptedChunks = Chunk(scripted.Text);
            foreach (var chunk in scriptedChunks.Where(c => c.Length > 0))
            {
                await SimulateLatency(scriptedChunks.Count, cancellationToken).ConfigureAwait(false);
                yield return new ChatResponseUpdate(ChatRole.Assistant, chunk) { ModelId = options?.ModelId };
            }

            yield return new ChatResponseUpdate(ChatRole.Assistant,
                [.. scripted.Messages[0].Contents.OfType<FunctionCallContent>(), new UsageContent(scripted.Usage!)])
            {
                ModelId = options?.ModelId,
                FinishReason = scripted.FinishReason,
            };
            yield break;
        }

        var text = Answer(prompt, options);
        var chunks = Chunk(text);
        foreach (var chunk in chunks)
        {
            await SimulateLatency(chunks.Count, cancellationToken).ConfigureAwait(false);
            yield return new ChatResponseUpdate(ChatRole.Assistant, chunk) { ModelId = options?.ModelId };
        }

        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(prompt, text))])
        {
            ModelId = options?.ModelId,
            FinishReason = ChatFinishReason.Stop,
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? Metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        // Nothing to release.
    }

    /// <summary>
    /// An agent turn from a canned script, when tools are offered and the step's canned answer is
    /// <c>{"agent_turns": [{"text": "…", "tool_calls": [{"name", "arguments"}]}, …]}</c>: turn N (the number of assistant
    /// messages in the prompt) answers with element N (the last one past the end); call ids are <c>call_N_i</c>.
    /// </summary>
    private ChatResponse? ScriptedAgentTurn(IReadOnlyList<ChatMessage> prompt, ChatOptions? chatOptions)
    {
        var properties = chatOptions?.AdditionalProperties;
        if (chatOptions?.Tools is not { Count: > 0 }
            || cannedResponses.Find(
                properties?.TryGetValue(WorkflowProperty, out var workflow) == true ? workflow as string : null,
                properties?.TryGetValue(StepProperty, out var step) == true ? step as string : null) is not { } canned
            || !canned.TrimStart().StartsWith('{')
            || JsonNode.Parse(canned)?["agent_turns"] is not JsonArray { Count: > 0 } turns)
        {
            return null;
        }

        var index = prompt.Count(m => m.Role == ChatRole.Assistant);
        var turn = turns[Math.Min(index, turns.Count - 1)] as JsonObject ?? [];
        var answer = new ChatMessage(ChatRole.Assistant, (string?)turn["text"]);
        var calls = turn["tool_calls"] as JsonArray ?? [];
        for (var i = 0; i < calls.Count; i++)
        {
            var arguments = calls[i]?["arguments"] as JsonObject ?? [];
            answer.Contents.Add(new FunctionCallContent($"call_{index}_{i}", (string)calls[i]!["name"]!,
                arguments.ToDictionary(p => p.Key, p => (object?)(p.Value is null ? null : System.Text.Json.JsonSerializer.SerializeToElement(p.Value, Agents.AgentJson.Default.JsonNode)))));
        }

        var output = TokenEstimator.Estimate(answer.Text) + calls.Sum(c => TokenEstimator.Estimate(c?.ToJsonString()));
        // Characters / 4 of the texts and tool results (not a serialization of every message: that cost the fake model
        // more than the loop it serves, turn after turn).
        var input = prompt.Sum(m => TokenEstimator.Estimate(m.Text)
            + m.Contents.Sum(c => c is FunctionResultContent result ? TokenEstimator.Estimate(result.Result?.ToString()) : c is FunctionCallContent ? 8 : 0));
        return new ChatResponse(answer)
        {
            ModelId = chatOptions.ModelId,
            FinishReason = calls.Count > 0 ? ChatFinishReason.ToolCalls : ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output },
        };
    }

    internal string Answer(IReadOnlyList<ChatMessage> prompt, ChatOptions? chatOptions)
    {
        var properties = chatOptions?.AdditionalProperties;
        var canned = cannedResponses.Find(
            properties?.TryGetValue(WorkflowProperty, out var workflow) == true ? workflow as string : null,
            properties?.TryGetValue(StepProperty, out var step) == true ? step as string : null);
        if (canned is not null)
        {
            return canned;
        }

        var model = chatOptions?.ModelId ?? "echo";
        var lastUser = prompt.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? string.Empty;
        return model switch
        {
            "echo" => lastUser,
            "json" => Json(prompt, lastUser),
            _ when model.StartsWith("lorem", StringComparison.Ordinal) => Lorem(LoremLength(model)),
            _ when chatOptions?.ResponseFormat is ChatResponseFormatJson => Json(prompt, lastUser),
            _ => $"[mock {model}] {Shorten(lastUser, 200)}",
        };
    }

    private int LoremLength(string model) =>
        model.Length > "lorem-".Length && int.TryParse(model.AsSpan("lorem-".Length), out var tokens) && tokens > 0
            ? tokens
            : options.LoremTokens;

    /// <summary>Fixed words until the text is <paramref name="tokens"/> tokens long by the chars/4 rule.</summary>
    private static string Lorem(int tokens)
    {
        var builder = new StringBuilder(tokens * 4);
        for (var i = 0; builder.Length < tokens * 4; i++)
        {
            builder.Append(LoremWords[i % LoremWords.Length]).Append(' ');
        }

        return builder.ToString(0, tokens * 4);
    }

    private static string Json(IReadOnlyList<ChatMessage> prompt, string lastUser)
    {
        var promptText = string.Join("\n", prompt.Select(m => m.Text));
        var words = lastUser.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var json = new JsonObject
        {
            ["mock"] = true,
            ["summary"] = Shorten(lastUser, 120),
            ["keywords"] = new JsonArray([.. words.Where(w => w.Length > 3).Distinct().Take(5).Select(w => (JsonNode)w)]),
            ["word_count"] = words.Length,
            ["prompt_sha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(promptText)))[..16],
        };
        return json.ToJsonString();
    }

    private static List<string> Chunk(string text)
    {
        List<string> chunks = [];
        var words = text.Split(' ');
        for (var i = 0; i < words.Length; i += WordsPerChunk)
        {
            var chunk = string.Join(' ', words.Skip(i).Take(WordsPerChunk));
            chunks.Add(i + WordsPerChunk < words.Length ? chunk + " " : chunk);
        }

        return chunks;
    }

    private static UsageDetails Usage(IReadOnlyList<ChatMessage> prompt, string text)
    {
        var input = TokenEstimator.Estimate(prompt);
        var output = TokenEstimator.Estimate(text);
        return new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output };
    }

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..max];

    private Task SimulateLatency(int parts, CancellationToken cancellationToken) => options.LatencyMs <= 0
        ? Task.CompletedTask
        : Task.Delay(TimeSpan.FromMilliseconds((double)options.LatencyMs / parts), cancellationToken);
}
