using System.Diagnostics;
using OpenTelemetry.Trace;

namespace LlmWorkflow.ServiceDefaults.Telemetry;

/// <summary>
/// Samples everything (respecting the parent's decision) except incoming requests for the health probes, which
/// orchestrators call every few seconds and would drown real traces. Dropping at the root also drops the spans the
/// health checks themselves make (database and Redis pings).
/// </summary>
public sealed class HealthProbeSampler : Sampler
{
    private static readonly SamplingResult Drop = new(SamplingDecision.Drop);

    private readonly Sampler _inner = new ParentBasedSampler(new AlwaysOnSampler());
    private readonly HashSet<string> _probePaths;

    /// <summary>Creates the sampler for the given request paths (e.g. <c>/health</c>, <c>/alive</c>).</summary>
    public HealthProbeSampler(IEnumerable<string> probePaths)
    {
        _probePaths = new HashSet<string>(probePaths, StringComparer.OrdinalIgnoreCase);
        Description = nameof(HealthProbeSampler);
    }

    /// <inheritdoc />
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        // ASP.NET Core passes url.path when it creates the request activity (with OpenTelemetry data not suppressed).
        if (samplingParameters.Kind == ActivityKind.Server && samplingParameters.Tags is { } tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "url.path" && tag.Value is string path && _probePaths.Contains(path))
                {
                    return Drop;
                }
            }
        }

        return _inner.ShouldSample(samplingParameters);
    }
}
