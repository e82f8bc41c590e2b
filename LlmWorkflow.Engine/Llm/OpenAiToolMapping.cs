using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using OpenAiChatMessage = OpenAI.Chat.ChatMessage;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Function calling over the Chat Completions wire format for <see cref="OpenAiCompatibleChatClient"/>: tool
/// declarations out (<c>tools[].function</c>), <c>tool_calls</c> back as <see cref="FunctionCallContent"/>, and a
/// conversation's calls and results sent again as assistant <c>tool_calls</c> and <c>tool</c> messages.
/// </summary>
internal static class OpenAiToolMapping
{
    public static void AddTools(ChatOptions? options, ChatCompletionOptions result)
    {
        if (options?.Tools is not { Count: > 0 } tools)
        {
            return;
        }

        foreach (var function in tools.OfType<AIFunctionDeclaration>())
        {
            result.Tools.Add(ChatTool.CreateFunctionTool(function.Name, function.Description, BinaryData.FromString(function.JsonSchema.GetRawText())));
        }
    }

    public static IEnumerable<OpenAiChatMessage> ToOpenAi(AiChatMessage message)
    {
        var calls = message.Contents.OfType<FunctionCallContent>().ToList();
        var results = message.Contents.OfType<FunctionResultContent>().ToList();
        if (message.Role == ChatRole.Assistant && calls.Count > 0)
        {
            var assistant = new AssistantChatMessage(calls.Select(call => ChatToolCall.CreateFunctionToolCall(
                call.CallId, call.Name, BinaryData.FromString(JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>())))));
            if (!string.IsNullOrEmpty(message.Text))
            {
                assistant.Content.Add(ChatMessageContentPart.CreateTextPart(message.Text));
            }

            yield return assistant;
            yield break;
        }

        if (results.Count > 0)
        {
            foreach (var result in results)
            {
                yield return new ToolChatMessage(result.CallId, ResultText(result.Result));
            }

            yield break;
        }

        yield return message.Role == ChatRole.System ? new SystemChatMessage(message.Text)
            : message.Role == ChatRole.Assistant ? new AssistantChatMessage(message.Text)
            : new UserChatMessage(message.Text);
    }

    /// <summary>The answer's tool calls as <see cref="FunctionCallContent"/>s (arguments parsed as a JSON object).</summary>
    public static IEnumerable<AIContent> ToolCalls(ChatCompletion completion) =>
        completion.ToolCalls.Where(call => call.Kind == ChatToolCallKind.Function).Select(call => (AIContent)new FunctionCallContent(
            call.Id, call.FunctionName, ParseArguments(call.FunctionArguments.ToString())));

    internal static Dictionary<string, object?> ParseArguments(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(string.IsNullOrWhiteSpace(json) ? "{}" : json)?
                .ToDictionary(p => p.Key, p => (object?)p.Value) ?? [];
        }
        catch (JsonException)
        {
            // A model that wrote broken JSON gets its text back as one argument; the tool's schema check names the problem.
            return new Dictionary<string, object?> { ["_unparsed"] = json };
        }
    }

    private static string ResultText(object? result) => result switch
    {
        null => "null",
        string text => text,
        JsonElement element => element.GetRawText(),
        _ => JsonSerializer.Serialize(result),
    };
}

/// <summary>
/// The tool calls of a streamed Chat Completions answer, put together from their fragments (<c>delta.tool_calls[]</c>
/// by <c>index</c>: the id and name once, the arguments' JSON in pieces), as <see cref="FunctionCallContent"/>s the way
/// <see cref="OpenAiToolMapping.ToolCalls"/> gives a whole answer's.
/// </summary>
internal sealed class OpenAiStreamedToolCalls
{
    private readonly SortedDictionary<int, (string? Id, string? Name, StringBuilder Arguments)> _calls = [];

    /// <summary>Takes the chunk's fragments; the chunk that finishes the choice gets every call, whole (none before it).</summary>
    public List<AIContent> CompletedBy(StreamingChatCompletionUpdate chunk)
    {
        Add(chunk.ToolCallUpdates);
        return chunk.FinishReason is null ? [] : Calls();
    }

    private void Add(IEnumerable<StreamingChatToolCallUpdate> updates)
    {
        foreach (var update in updates)
        {
            var call = _calls.TryGetValue(update.Index, out var known) ? known : (null, null, new StringBuilder());
            call.Id ??= update.ToolCallId;
            call.Name ??= update.FunctionName;
            if (update.FunctionArgumentsUpdate is { } fragment && !fragment.IsEmpty)
            {
                call.Arguments.Append(fragment.ToString());
            }

            _calls[update.Index] = call;
        }
    }

    private List<AIContent> Calls() => [.. _calls.Values.Where(c => c.Name is not null).Select(c =>
        (AIContent)new FunctionCallContent(c.Id ?? string.Empty, c.Name!, OpenAiToolMapping.ParseArguments(c.Arguments.ToString())))];
}
