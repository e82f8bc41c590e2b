namespace LlmWorkflow.Engine.External;

/// <summary>
/// String cache shared by the LLM response cache and external API results: in-process memory, then Redis when
/// configured, so workers share entries. Keys are already hashed by the callers.
/// </summary>
public interface IResponseCache
{
    ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken);

    ValueTask SetAsync(string key, string value, TimeSpan ttl, CancellationToken cancellationToken);
}
