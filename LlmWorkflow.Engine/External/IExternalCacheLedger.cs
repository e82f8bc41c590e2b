namespace LlmWorkflow.Engine.External;

/// <summary>
/// Where cached external API answers are recorded for operators: document 001 reads its cache statistics from the
/// <c>external_api_cache</c> table (entries per service and operation, their lifetimes). The answers themselves are
/// served from <see cref="IResponseCache"/>; a ledger only records them, and never fails the call it records.
/// </summary>
public interface IExternalCacheLedger
{
    /// <summary>An answer was cached under <paramref name="key"/> for <paramref name="ttl"/>.</summary>
    ValueTask StoredAsync(string service, string operation, string key, string answerJson, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>A call was answered from the cache entry <paramref name="key"/>.</summary>
    ValueTask HitAsync(string key, CancellationToken cancellationToken);
}
