namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// What a parked run waits for: the step that parked it (by its checkpoint key, so a resumed run knows which step's
/// wait it was), the kind of wait, and when it is due.
/// </summary>
/// <param name="StepId">The step's id, for status and events.</param>
/// <param name="StepKey">The step's checkpoint key (for_each iterations prefix it).</param>
/// <param name="Kind">"sleep", "event", "approval", "budget" (an LLM call waiting for a provider budget to fit) or "batch" (an LLM call sent as a provider batch).</param>
/// <param name="Until">When the run is to resume: a sleep's end, or a wait's timeout.</param>
/// <param name="Event">The signal an "event" or "approval" wait waits for; null for a sleep.</param>
/// <param name="Approval">
/// An approval's <c>{prompt, show, nonce}</c>: what its decision page shows, and the random value its decision links
/// carry (one decision per wait). Null for other waits.
/// </param>
/// <param name="Budget">A "budget" wait's <c>{scope, reason}</c>: which budget (<c>openai</c>, <c>openai/gpt-4o-mini</c>) did not fit and why.</param>
/// <param name="Batch">
/// A "batch" wait's <c>{key, provider, model, batch_id}</c>: the key is recorded before the batch is created and the
/// batch id as soon as it is, so a resumed step looks at the same batch and never creates a second one.
/// </param>
/// <param name="Pending">
/// When blocks of a <c>parallel</c> or <c>for_each</c> parked on more than one wait: every one of them, this one
/// included, each with its own step key and time (<see cref="NestedWaits.Combine"/>); null for a single wait. The run
/// then waits until the earliest of their times (<paramref name="Until"/>) or a signal of any of their events.
/// </param>
public sealed record RunWait(string StepId, string StepKey, string Kind, DateTimeOffset Until, string? Event = null, System.Text.Json.Nodes.JsonObject? Approval = null,
    System.Text.Json.Nodes.JsonObject? Budget = null, System.Text.Json.Nodes.JsonObject? Batch = null, IReadOnlyList<RunWait>? Pending = null)
{
    /// <summary>
    /// The wait the step <paramref name="stepKey"/> parked on in the run this one resumes (with its own time), or null
    /// when that step did not park: how a resumed wait step keeps the time it first worked out.
    /// </summary>
    public RunWait? Of(string stepKey) => Pending is { } pending
        ? pending.FirstOrDefault(wait => wait.StepKey == stepKey)
        : StepKey == stepKey ? this : null;

    /// <summary>The signal events the run waits for: this wait's and every pending one's.</summary>
    public IReadOnlyList<string> Events => Pending is { } pending
        ? [.. pending.Select(wait => wait.Event).OfType<string>().Distinct(StringComparer.Ordinal)]
        : Event is { } single ? [single] : [];
}

/// <summary>
/// The signals sent to a run (the job's inbox). <see cref="TakeAsync"/> hands a step the oldest unclaimed signal of an
/// event, once: the same step asking again (its run resumed after a crash) gets the same one back.
/// </summary>
public interface ISignalInbox
{
    ValueTask<RunSignal?> TakeAsync(string runId, string eventName, string stepKey, CancellationToken cancellationToken);
}

/// <summary>A signal taken by a step: its body (any JSON, null included).</summary>
public sealed record RunSignal(System.Text.Json.Nodes.JsonNode? Payload);

/// <summary>Thrown by a step that parks the run; the runner turns it into a <see cref="WorkflowRunStatus.Waiting"/> result.</summary>
public sealed class RunParkedException(RunWait wait) : Exception($"The run waits until {wait.Until:O} at step \"{wait.StepId}\".")
{
    public RunWait Wait { get; } = wait;
}

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
        var waits = parked.SelectMany(Flatten).ToList();
        if (waits.Count == 1)
        {
            return waits[0];
        }

        var shown = waits.FirstOrDefault(wait => wait.Event is not null) ?? waits.MinBy(wait => wait.Until)!;
        return shown with { Until = waits.Min(wait => wait.Until), Pending = [.. waits.Select(NonceOnly)] };
    }

    /// <summary>
    /// A pending approval keeps only its nonce (and an agent's, the call it decides): a step shown later works out its
    /// prompt and what it shows again, so a for_each of many approvals does not store each one's subject (up to 256 KiB)
    /// in the job's wait, and a resumed step still knows its own links and time.
    /// </summary>
    private static RunWait NonceOnly(RunWait wait) => wait.Approval is { } approval
        ? wait with
        {
            Approval = approval["call_id"] is { } callId
                ? new System.Text.Json.Nodes.JsonObject { ["nonce"] = approval["nonce"]?.DeepClone(), ["call_id"] = callId.DeepClone() }
                : new System.Text.Json.Nodes.JsonObject { ["nonce"] = approval["nonce"]?.DeepClone() },
        }
        : wait;

    /// <summary>The waits of an inner combined wait, its shown one whole again (the pending entries hold only nonces).</summary>
    private static IEnumerable<RunWait> Flatten(RunWait wait) => wait.Pending is { } pending
        ? pending.Select(entry => entry.StepKey == wait.StepKey ? wait with { Until = entry.Until, Pending = null } : entry)
        : [wait];
}
