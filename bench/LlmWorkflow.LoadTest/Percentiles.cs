namespace LlmWorkflow.LoadTest;

/// <summary>Latency percentiles over recorded samples (nearest-rank).</summary>
internal static class Percentiles
{
    public static double Of(IReadOnlyList<double> sortedMs, double percentile) =>
        sortedMs.Count == 0 ? double.NaN : sortedMs[Math.Clamp((int)Math.Ceiling(percentile / 100 * sortedMs.Count) - 1, 0, sortedMs.Count - 1)];
}
