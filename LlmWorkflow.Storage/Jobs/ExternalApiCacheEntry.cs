using System.Text.Json;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>A row of <c>external_api_cache</c> (the documents' migration 002): a cached external API response.</summary>
public sealed class ExternalApiCacheEntry
{
    public string CacheKey { get; set; } = "";

    public string Service { get; set; } = "";

    public string Operation { get; set; } = "";

    public JsonDocument ResponseData { get; set; } = JsonDocument.Parse("null");

    public int HitCount { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }
}
