using System.Runtime.CompilerServices;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// One agent turn's tool offer and the provider's full answer, carried beside the gateway call. The gateway's public
/// request is text chat (it is shared with the <c>llm</c> step), so for the duration of one call the agent step has the
/// provider registry wrap the clients of its own async flow in <see cref="AgentToolsChatClient"/>
/// (<see cref="LlmProviderRegistry.ClientDecorator"/>), which adds the tools to <see cref="ChatOptions.Tools"/> and keeps
/// the answer's messages (tool calls included). Fallbacks, retries, admission, prices and telemetry stay the gateway's,
/// and no other call passes through this code.
/// </summary>
public sealed class AgentToolCallScope(IList<AITool> tools)
{
    public IList<AITool> Tools { get; } = tools;

    /// <summary>The last answer a provider gave inside the scope (a fallback model's when the first one failed).</summary>
    public ChatResponse? Response { get; internal set; }

    /// <summary>
    /// Told when a streamed provider call of the turn begins (each retry and fallback is one), before its first update:
    /// the turn's live deltas mark an abandoned attempt by it (<see cref="AgentTurnDeltas"/>).
    /// </summary>
    public Action? StreamStarted { get; init; }

    /// <summary>Offers this scope's tools to the calls made on this async flow until the returned handle is disposed.</summary>
    public IDisposable Enter()
    {
        var previous = LlmProviderRegistry.ClientDecorator.Value;
        LlmProviderRegistry.ClientDecorator.Value = client => new AgentToolsChatClient(client, this);
        return new Exit(previous);
    }

    private sealed class Exit(Func<IChatClient, IChatClient>? previous) : IDisposable
    {
        public void Dispose() => LlmProviderRegistry.ClientDecorator.Value = previous;
    }
}

/// <summary>The chat-client middleware of an agent turn: offers the scope's tools and records the answer.</summary>
public sealed class AgentToolsChatClient(IChatClient inner, AgentToolCallScope scope) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var response = await base.GetResponseAsync(messages, WithTools(options), cancellationToken).ConfigureAwait(false);
        scope.Response = response;
        return response;
    }

    /// <summary>A streamed turn: its updates pass through as they come, and the whole answer is rebuilt from them at the end.</summary>
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        scope.StreamStarted?.Invoke();
        List<ChatResponseUpdate> updates = [];
        await foreach (var update in base.GetStreamingResponseAsync(messages, WithTools(options), cancellationToken).ConfigureAwait(false))
        {
            updates.Add(update);
            yield return update;
        }

        // Only an attempt streamed to its end is the turn's answer (text and tool calls, as a non-streamed call returns
        // them); an abandoned one never reaches here, so none of it can be recorded.
        scope.Response = updates.ToChatResponse();
    }

    private ChatOptions WithTools(ChatOptions? options)
    {
        var withTools = options?.Clone() ?? new ChatOptions();
        withTools.Tools = scope.Tools;
        withTools.ToolMode = scope.Tools.Count > 0 ? ChatToolMode.Auto : null;
        return withTools;
    }
}
