namespace LlmWorkflow.Engine.Network;

/// <summary>A webhook host resolved to an address that private-network protection forbids; retrying cannot help.</summary>
public sealed class WebhookDestinationBlockedException(string message) : Exception(message);
