using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// One agent turn's tool offer and the provider's full answer, carried beside the gateway call. The gateway's public
/// request is text chat (it is shared with the <c>llm</c> step), so the agent step puts its tools here for the duration
/// of one call and <see cref="AgentToolsChatClient"/> — the innermost middleware of every provider's client — adds them
/// to <see cref="ChatOptions.Tools"/> and keeps the answer's messages (tool calls included) for the step to read.
/// Fallbacks, retries, admission, prices and telemetry stay the gateway's.
/// </summary>
public sealed class AgentToolCallScope(IList<AITool> tools)
{
    private static readonly AsyncLocal<AgentToolCallScope?> CurrentScope = new();

    public IList<AITool> Tools { get; } = tools;

    /// <summary>The last answer a provider gave inside the scope (a fallback model's when the first one failed).</summary>
    public ChatResponse? Response { get; internal set; }

    /// <summary>The scope of the call running on this async flow, or null (every call that is not an agent turn).</summary>
    public static AgentToolCallScope? Current => CurrentScope.Value;

    /// <summary>Makes this scope current until the returned handle is disposed.</summary>
    public IDisposable Enter()
    {
        var previous = CurrentScope.Value;
        CurrentScope.Value = this;
        return new Exit(previous);
    }

    private sealed class Exit(AgentToolCallScope? previous) : IDisposable
    {
        public void Dispose() => CurrentScope.Value = previous;
    }
}

/// <summary>
/// The chat-client middleware through which the agent capability reaches providers: a no-op outside an
/// <see cref="AgentToolCallScope"/>; inside one it offers the scope's tools and records the answer.
/// </summary>
public sealed class AgentToolsChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (AgentToolCallScope.Current is not { } scope)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }

        var response = await base.GetResponseAsync(messages, WithTools(options, scope), cancellationToken).ConfigureAwait(false);
        scope.Response = response;
        return response;
    }

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetStreamingResponseAsync(messages, AgentToolCallScope.Current is { } scope ? WithTools(options, scope) : options, cancellationToken);

    private static ChatOptions WithTools(ChatOptions? options, AgentToolCallScope scope)
    {
        var withTools = options?.Clone() ?? new ChatOptions();
        withTools.Tools = scope.Tools;
        withTools.ToolMode = scope.Tools.Count > 0 ? ChatToolMode.Auto : null;
        return withTools;
    }
}
