using System.Diagnostics;
using OpenTelemetry.Trace;

namespace LlmWorkflow.ServiceDefaults.Telemetry;

/// <summary>
/// Drops database and Redis client spans that have no parent: they come from background loops (idle workers
/// reading the dispatch streams, heartbeats, the reconciler, outbox and maintenance polling) and would bury the real
/// traces. The same calls made inside a request, a job run or another span of ours are kept, because those have a
/// parent. Outgoing HTTP calls are left to <paramref name="inner"/>: a dropped HTTP span would still propagate an
/// unsampled trace context and so silence the receiving service's trace.
/// </summary>
public sealed class BackgroundPollingSampler(Sampler inner) : Sampler
{
    /// <summary>The operation name of HttpClient's activities.</summary>
    public const string HttpClientOperation = "System.Net.Http.HttpRequestOut";

    private static readonly SamplingResult Drop = new(SamplingDecision.Drop);

    /// <inheritdoc />
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
        samplingParameters.Kind == ActivityKind.Client
        && samplingParameters.ParentContext.TraceId == default
        && samplingParameters.Name != HttpClientOperation
            ? Drop
            : inner.ShouldSample(samplingParameters);
}
