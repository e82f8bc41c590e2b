using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>
/// Scripted streamed answers of an OpenAI-compatible provider (<c>stream: true</c>, Chat Completions chunks over SSE),
/// for <see cref="FakeHttpServer.Enqueue"/>: text in the chunks given, tool calls as OpenAI streams them (the id and
/// name in the first fragment, the arguments' JSON split over the next ones), the finish, the usage chunk and <c>[DONE]</c>.
/// </summary>
public static class FakeOpenAiStream
{
    /// <summary>A whole streamed answer, its chunks <paramref name="chunkDelay"/> apart.</summary>
    public static FakeResponse Answer(
        IReadOnlyList<string> textChunks, IReadOnlyList<(string Id, string Name, JsonObject Arguments)>? toolCalls = null,
        TimeSpan chunkDelay = default, int promptTokens = 100, int completionTokens = 20)
    {
        List<JsonObject> chunks = [.. textChunks.Select(text => Chunk(new JsonObject { ["content"] = text }, null))];
        var calls = toolCalls ?? [];
        for (var i = 0; i < calls.Count; i++)
        {
            chunks.Add(Chunk(ToolCallDelta(i, new JsonObject { ["id"] = calls[i].Id, ["type"] = "function", ["function"] = new JsonObject { ["name"] = calls[i].Name, ["arguments"] = "" } }), null));
            var arguments = calls[i].Arguments.ToJsonString();
            // The arguments in three pieces, cut anywhere (inside a string or a key), as providers do.
            foreach (var piece in new[] { arguments[..(arguments.Length / 3)], arguments[(arguments.Length / 3)..(2 * arguments.Length / 3)], arguments[(2 * arguments.Length / 3)..] })
            {
                chunks.Add(Chunk(ToolCallDelta(i, new JsonObject { ["function"] = new JsonObject { ["arguments"] = piece } }), null));
            }
        }

        chunks.Add(Chunk(new JsonObject(), calls.Count > 0 ? "tool_calls" : "stop"));
        var usage = Chunk(null, null);
        usage["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = completionTokens, ["total_tokens"] = promptTokens + completionTokens };
        chunks.Add(usage);
        return new FakeResponse(200, ContentType: "text/event-stream") { Events = [.. chunks.Select(c => c.ToJsonString()), "[DONE]"], EventDelay = chunkDelay };
    }

    /// <summary>The first text chunks of an answer, then the connection drops (the provider failed mid-answer).</summary>
    public static FakeResponse BrokenAfter(IReadOnlyList<string> textChunks, TimeSpan chunkDelay = default) =>
        new(200, ContentType: "text/event-stream")
        {
            Events = [.. textChunks.Select(text => Chunk(new JsonObject { ["content"] = text }, null).ToJsonString())],
            EventDelay = chunkDelay,
            AbortAfterEvents = true,
        };

    private static JsonObject ToolCallDelta(int index, JsonObject call)
    {
        call["index"] = index;
        return new JsonObject { ["tool_calls"] = new JsonArray(call) };
    }

    private static JsonObject Chunk(JsonObject? delta, string? finishReason) => new()
    {
        ["id"] = "chatcmpl-streamed",
        ["object"] = "chat.completion.chunk",
        ["created"] = 1_700_000_000,
        ["model"] = "gpt-4o-mini",
        ["choices"] = delta is null ? new JsonArray() : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
    };
}
