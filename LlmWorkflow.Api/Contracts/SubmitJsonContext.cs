using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// Compile-time JSON metadata for the submission's answer, first in the API's resolver chain, so the busiest route's
/// response needs no reflection-emitted accessors (JIT work in every fresh process). Same names and rules as the
/// reflection-based contracts (snake_case). The request stays reflection-based: generated metadata reads its
/// init-only properties like constructor arguments, and a wrongly typed field would then be reported with the
/// request's type instead of the field's.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(JobAcceptedResponse))]
internal sealed partial class SubmitJsonContext : JsonSerializerContext;
