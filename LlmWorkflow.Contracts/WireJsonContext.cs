using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Contracts;

/// <summary>
/// Compile-time JSON metadata for every wire payload, snake_case like the rest of the API. Producers serialize and
/// readers deserialize through this one context, so a renamed field breaks the build rather than a client.
/// Metadata may come after other fields when reading: a live event's <c>type</c> is not guaranteed to be first.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(LiveJobEvent))]
[JsonSerializable(typeof(StepWebhookBody))]
[JsonSerializable(typeof(WaitingWebhookBody))]
[JsonSerializable(typeof(TerminalWebhookBody))]
[JsonSerializable(typeof(TruncatedOutput))]
[JsonSerializable(typeof(JobStatusResponse))]
[JsonSerializable(typeof(JobAttemptSummary[]))]
[JsonSerializable(typeof(JobAttemptTrace[]))]
public sealed partial class WireJsonContext : JsonSerializerContext;
