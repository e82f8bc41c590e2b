using System.Diagnostics.Metrics;
using LlmWorkflow.Engine;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The latest depth and oldest-entry age of each dispatch stream, written by a periodic reader in the worker and read
/// by the queue gauges at export time (so an export never waits on Redis).
/// </summary>
internal sealed class QueueReading
{
    /// <summary>The worker's one reading, observed by the queue gauges of the service's meter.</summary>
    public static QueueReading Current { get; } = new();

    static QueueReading()
    {
        Telemetry.Meter.CreateObservableGauge("llmworkflow.queue.depth", Current.Depths, unit: "{job}",
            description: "Dispatch entries not yet acknowledged (waiting or running), by priority band.");
        Telemetry.Meter.CreateObservableGauge("llmworkflow.queue.oldest_age", Current.OldestAges, unit: "s",
            description: "Age of the oldest entry not yet acknowledged, by priority band.");
    }

    private volatile IReadOnlyList<BandReading> _bands = [];

    /// <summary>Replaces the reading (all bands at once).</summary>
    public void Update(IReadOnlyList<BandReading> bands) => _bands = bands;

    public IReadOnlyList<BandReading> Bands => _bands;

    internal IEnumerable<Measurement<long>> Depths() =>
        _bands.Select(b => new Measurement<long>(b.Depth, new KeyValuePair<string, object?>("priority_band", b.Band)));

    internal IEnumerable<Measurement<double>> OldestAges() =>
        _bands.Select(b => new Measurement<double>(b.OldestAgeSeconds, new KeyValuePair<string, object?>("priority_band", b.Band)));
}

/// <param name="Band">high, normal or low.</param>
/// <param name="Depth">Entries not yet acknowledged: waiting for a worker plus being run.</param>
/// <param name="OldestAgeSeconds">Age of the oldest of them (0 when there is none).</param>
internal sealed record BandReading(string Band, long Depth, double OldestAgeSeconds);

/// <summary>
/// The latest count of parked jobs (scheduled for a run_at, waiting at a sleep, a signal or an approval), written by
/// the queue metrics reader every <see cref="QueueMetricsService.ParkedInterval"/> and observed by the
/// <c>llmworkflow.jobs.parked</c> gauge at export time.
/// </summary>
internal sealed class ParkedJobsReading
{
    public static ParkedJobsReading Current { get; } = new();

    static ParkedJobsReading()
    {
        Telemetry.Meter.CreateObservableGauge("llmworkflow.jobs.parked", Current.Counts, unit: "{job}",
            description: "Jobs parked without a worker slot, by status: scheduled (waiting for run_at) and waiting (a sleep, a signal or an approval).");
    }

    private volatile Tuple<long, long>? _counts;

    public void Update((long Scheduled, long Waiting) counts) => _counts = Tuple.Create(counts.Scheduled, counts.Waiting);

    internal IEnumerable<Measurement<long>> Counts() => _counts is { } counts
        ? [new(counts.Item1, new KeyValuePair<string, object?>("status", "scheduled")), new(counts.Item2, new KeyValuePair<string, object?>("status", "waiting"))]
        : [];
}
