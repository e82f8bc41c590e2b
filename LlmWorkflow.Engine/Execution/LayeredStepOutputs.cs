using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// Step outputs visible to expressions: this layer's (a for_each iteration's sub-steps) over the enclosing ones.
/// Written concurrently by parallel branches, so the layer is a concurrent dictionary.
/// </summary>
internal sealed class LayeredStepOutputs(LayeredStepOutputs? parent) : IReadOnlyDictionary<string, JsonNode?>
{
    private readonly ConcurrentDictionary<string, JsonNode?> _own = new(StringComparer.Ordinal);

    public void Set(string stepId, JsonNode? output) => _own[stepId] = output;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out JsonNode? value) =>
        _own.TryGetValue(key, out value) || (parent is not null && parent.TryGetValue(key, out value));

    public JsonNode? this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException(key);

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public IEnumerable<string> Keys => this.Select(pair => pair.Key);

    public IEnumerable<JsonNode?> Values => this.Select(pair => pair.Value);

    public int Count => this.Count();

    public IEnumerator<KeyValuePair<string, JsonNode?>> GetEnumerator()
    {
        var inner = parent?.Where(pair => !_own.ContainsKey(pair.Key)) ?? [];
        return _own.Concat(inner).GetEnumerator();
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
