using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.External;

/// <summary>Cache keys from service, operation and parameters normalized (object keys sorted at every level).</summary>
public static class ExternalCacheKey
{
    public static string For(string service, string operation, JsonObject parameters)
    {
        var normalized = Canonical(parameters)?.ToJsonString() ?? "null";
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalized)));
        return $"ext:{service}:{operation}:{hash}";
    }

    /// <summary>A copy of the JSON with object keys sorted at every level (ordinal): equal data, equal text.</summary>
    public static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value)))),
        JsonArray array => new JsonArray([.. array.Select(Canonical)]),
        _ => node?.DeepClone(),
    };
}
