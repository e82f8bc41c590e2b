using System.Diagnostics.Metrics;

namespace LlmWorkflow.Engine.Jobs;

/// <summary>
/// The latest depth and oldest-entry age of each dispatch stream, written by a periodic reader in the worker and read
/// by the queue gauges at export time (so an export never waits on Redis).
/// </summary>
public sealed class QueueReading
{
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
public sealed record BandReading(string Band, long Depth, double OldestAgeSeconds);
