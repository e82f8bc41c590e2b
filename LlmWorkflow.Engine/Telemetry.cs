using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LlmWorkflow.Engine;

/// <summary>The service's own ActivitySource and Meter (both named <c>LlmWorkflow</c>; ServiceDefaults subscribes to them).</summary>
public static class Telemetry
{
    public const string Name = "LlmWorkflow";

    public static readonly ActivitySource ActivitySource = new(Name);

    public static readonly Meter Meter = new(Name);

    public static readonly Counter<long> JobsFinished = Meter.CreateCounter<long>(
        "llmworkflow.jobs.finished", description: "Jobs that reached a terminal state, by workflow and status.");

    public static readonly Histogram<double> JobDuration = Meter.CreateHistogram<double>(
        "llmworkflow.jobs.duration", unit: "s", description: "Wall time of a job run in a worker.");

    public static readonly Counter<long> JobsSubmitted = Meter.CreateCounter<long>(
        "llmworkflow.jobs.submitted", description: "Jobs accepted by the API, by workflow.");
}
