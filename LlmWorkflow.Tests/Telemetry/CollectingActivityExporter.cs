using System.Diagnostics;
using OpenTelemetry;

namespace LlmWorkflow.Tests.Telemetry;

/// <summary>Keeps exported activities in memory and lets a test wait for one to arrive.</summary>
internal sealed class CollectingActivityExporter : BaseExporter<Activity>
{
    private readonly Lock _gate = new();
    private readonly List<Activity> _exported = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<Activity> Exported
    {
        get
        {
            lock (_gate)
            {
                return [.. _exported];
            }
        }
    }

    public override ExportResult Export(in Batch<Activity> batch)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            foreach (var activity in batch)
            {
                _exported.Add(activity);
            }

            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.SetResult();
        return ExportResult.Success;
    }

    /// <summary>Waits until an exported activity matches; activities stop (and export) just after the response is sent.</summary>
    public async Task<Activity> WaitForAsync(Func<Activity, bool> match, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_exported.FirstOrDefault(match) is { } found)
                {
                    return found;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(timeout.Token);
        }
    }
}
