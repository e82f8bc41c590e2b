using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Api.Auth;

/// <summary>
/// Authenticates keys stored in <c>llm_api_keys</c>. A presented key is hashed and looked up by its digest (an index
/// lookup on a SHA-256 digest reveals nothing about any secret), then the digest is compared again in constant time.
/// Lookups (found or not) are cached for <see cref="ApiKeyOptions.KeyCacheTtl"/> so the submit path does not pay
/// a database round trip per request; the instance that revokes or rotates a key evicts it at once, other API
/// instances within that TTL. Expiry is checked on every request against the cached row.
/// </summary>
public sealed class DatabaseApiKeys(ApiKeyStore store, ApiKeyUsageRecorder usage, TimeProvider time, IOptions<ApiKeyOptions> options)
{
    /// <summary>Bounds the cache against floods of random keys: when full it is emptied (lookups are cheap).</summary>
    private const int MaxCachedLookups = 10_000;

    private readonly ConcurrentDictionary<string, CachedLookup> _cache = new(StringComparer.Ordinal);
    private readonly TimeSpan _ttl = options.Value.KeyCacheTtl;

    /// <summary>The valid key with this digest, or null (unknown, revoked or expired).</summary>
    public async Task<StoredApiKey?> FindAsync(byte[] digest, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var cacheKey = Convert.ToBase64String(digest);
        StoredApiKey? key;
        if (_ttl > TimeSpan.Zero && _cache.TryGetValue(cacheKey, out var cached) && now - cached.At < _ttl && now >= cached.At)
        {
            key = cached.Key;
        }
        else
        {
            key = await store.FindByDigestAsync(digest, cancellationToken);
            if (_ttl > TimeSpan.Zero)
            {
                if (_cache.Count >= MaxCachedLookups)
                {
                    _cache.Clear();
                }

                _cache[cacheKey] = new CachedLookup(key, now);
            }
        }

        if (key is null || !CryptographicOperations.FixedTimeEquals(key.SecretHash, digest) || !key.ValidAt(now))
        {
            return null;
        }

        usage.Record(key.Id, now);
        return key;
    }

    /// <summary>Drops a key's cached lookup (after it was revoked or rotated here).</summary>
    public void Evict(StoredApiKey key) => _cache.TryRemove(Convert.ToBase64String(key.SecretHash), out _);

    private sealed record CachedLookup(StoredApiKey? Key, DateTimeOffset At);
}
