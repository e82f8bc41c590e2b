using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// <c>Worker:TenantSlotShares</c> as this worker's claims, releases and backstop use it: the tenants' weights
/// (<c>Tenants:&lt;id&gt;:Weight</c>) and the slots of every live worker.
/// </summary>
internal sealed class TenantSlotShares
{
    private readonly bool _enabled;
    private readonly string[] _tenants;
    private readonly decimal[] _weights;
    private int _totalSlots;

    public TenantSlotShares(IOptions<WorkerOptions> options, IOptions<AdmissionOptions> admission)
    {
        _enabled = options.Value.TenantSlotShares;
        _totalSlots = options.Value.MaxConcurrentJobs;
        _tenants = [.. admission.Value.TenantWeights.Keys.Order(StringComparer.Ordinal)];
        _weights = [.. _tenants.Select(t => (decimal)admission.Value.WeightOf(t))];
    }

    /// <summary>
    /// Why <c>Worker:TenantSlotShares</c> as written refuses the start, or null (the binder's own error would name the
    /// type, not the setting's values).
    /// </summary>
    public static string? ProblemOf(string? raw) =>
        raw is null || bool.TryParse(raw, out _) ? null : $"Worker:TenantSlotShares must be true or false; got '{raw}'.";

    /// <summary>Whether the shares are on (else the claim, release and backstop are today's).</summary>
    public bool Enabled => _enabled;

    /// <summary>The shares as the slot statements take them, or null when they are off.</summary>
    public SlotShares? Current => _enabled ? new SlotShares(Volatile.Read(ref _totalSlots), _tenants, _weights) : null;

    /// <summary>
    /// The live workers' heartbeats, read after this worker's own beat: the sum of their slots is what the shares divide
    /// (at least this worker's own). Read once a beat (5 s), not per claim: the sum changes only when a worker starts or
    /// stops, and a Redis round trip on every claim costs more than a share that is a beat late.
    /// </summary>
    public void Saw(IReadOnlyList<WorkerHeartbeat> live, int ownSlots) =>
        Volatile.Write(ref _totalSlots, Math.Max(live.Sum(b => b.MaxConcurrentJobs), ownSlots));
}
