namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// Priorities 0-10 map to three dispatch streams: high (7-10), normal (4-6), low (0-3). Workers read high first,
/// so a backlog of low-priority work never delays a high-priority job; within a band order is FIFO.
/// </summary>
public enum PriorityBand
{
    High,
    Normal,
    Low,
}

public static class PriorityBands
{
    public const int MinPriority = 0;
    public const int MaxPriority = 10;

    /// <summary>Bands in the order workers read them.</summary>
    public static IReadOnlyList<PriorityBand> ReadOrder { get; } = [PriorityBand.High, PriorityBand.Normal, PriorityBand.Low];

    public static PriorityBand ForPriority(int priority) => priority switch
    {
        >= 7 => PriorityBand.High,
        >= 4 => PriorityBand.Normal,
        _ => PriorityBand.Low,
    };

    public static string StreamKey(this PriorityBand band, string keyPrefix) =>
        $"{keyPrefix}:jobs:{band.ToString().ToLowerInvariant()}";
}
