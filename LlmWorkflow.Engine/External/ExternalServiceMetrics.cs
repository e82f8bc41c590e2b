using System.Diagnostics.Metrics;

namespace LlmWorkflow.Engine.External;

/// <summary>Cache statistics on the <c>LlmWorkflow</c> meter, tagged with service and operation.</summary>
public sealed class ExternalServiceMetrics
{
    public const string MeterName = "LlmWorkflow";

    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;

    public ExternalServiceMetrics(IMeterFactory? meterFactory = null)
    {
        Meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _hits = Meter.CreateCounter<long>("llmworkflow.external.cache.hits", description: "External API results served from the cache.");
        _misses = Meter.CreateCounter<long>("llmworkflow.external.cache.misses", description: "External API calls the cache could not answer.");
    }

    internal Meter Meter { get; }

    public void CacheHit(string service, string operation) => _hits.Add(1, Tags(service, operation));

    public void CacheMiss(string service, string operation) => _misses.Add(1, Tags(service, operation));

    private static KeyValuePair<string, object?>[] Tags(string service, string operation) =>
        [new("service", service), new("operation", operation)];
}
