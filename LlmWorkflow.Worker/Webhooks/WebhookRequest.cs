namespace LlmWorkflow.Worker.Webhooks;

/// <summary>One signed POST to send: the exact body bytes, the event identity and the secrets to sign with (current first).</summary>
internal sealed record WebhookRequest(
    string Url,
    string EventId,
    string EventType,
    ReadOnlyMemory<byte> Body,
    IReadOnlyList<string> Secrets,
    DateTimeOffset Timestamp);
