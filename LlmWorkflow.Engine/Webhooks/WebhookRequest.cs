namespace LlmWorkflow.Engine.Webhooks;

/// <summary>One signed POST to send: the exact body bytes, the event identity and the secrets to sign with (current first).</summary>
public sealed record WebhookRequest(
    string Url,
    string EventId,
    string EventType,
    ReadOnlyMemory<byte> Body,
    IReadOnlyList<string> Secrets,
    DateTimeOffset Timestamp);
