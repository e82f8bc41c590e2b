namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// The one wait a job parks on when several blocks of a <c>parallel</c> or <c>for_each</c> parked (docs/JOB_LIFECYCLE.md,
/// "Waits inside parallel and for_each"). The job holds one wait row; it carries every block's wait so each resumed
/// step finds its own time, and it is woken by the earliest time or by a signal of any awaited event.
/// </summary>
public static class NestedWaits
{
    /// <summary>
    /// Combines the waits of blocks that parked, in definition (branch or item) order. The wait shown, whose approval
    /// links are issued and whose event the inbox is asked about first, is the first that waits for a signal, else the
    /// one due first; its <see cref="RunWait.Until"/> becomes the earliest time of all.
    /// </summary>
    public static RunWait Combine(IEnumerable<RunWait> parked)
    {
        var waits = parked.SelectMany(wait => wait.Pending ?? [wait]).ToList();
        if (waits.Count == 1)
        {
            return waits[0];
        }

        var shown = waits.FirstOrDefault(wait => wait.Event is not null) ?? waits.MinBy(wait => wait.Until)!;
        return shown with { Until = waits.Min(wait => wait.Until), Pending = waits };
    }
}
