using System.Diagnostics;
using OpenTelemetry.Trace;

namespace LlmWorkflow.ServiceDefaults.Telemetry;

/// <summary>
/// Drops client spans (database, Redis, HTTP calls) that have no parent: they come from background loops (idle
/// workers reading the dispatch streams, heartbeats, the reconciler, outbox and maintenance polling) and would bury
/// the real traces. The same calls made inside a request, a job run or another span of ours are kept, because
/// those have a parent. Everything else is decided by <paramref name="inner"/>.
/// </summary>
public sealed class BackgroundPollingSampler(Sampler inner) : Sampler
{
    private static readonly SamplingResult Drop = new(SamplingDecision.Drop);

    /// <inheritdoc />
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
        samplingParameters.Kind == ActivityKind.Client && samplingParameters.ParentContext.TraceId == default
            ? Drop
            : inner.ShouldSample(samplingParameters);
}
