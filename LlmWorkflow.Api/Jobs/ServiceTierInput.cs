using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Api.Jobs;

/// <summary>
/// Reads a submission's <c>service_tier</c> and <c>deadline</c> (docs/ADMISSION.md, "Service tiers"). A
/// <c>deadline</c> alone means flex: a deadline says the job can wait, and flex is what waiting buys; with
/// <c>"standard"</c> it is refused, since a standard call has nothing to wait for; with <c>"batch"</c> it is when a batch
/// that ended unanswered may still be replaced by a standard call. Every problem names its field.
/// </summary>
public static class ServiceTierInput
{
    /// <summary>The tier and deadline to store (null: standard, nothing asked), or the problems.</summary>
    /// <param name="runAt">The job's due time, if scheduled: its deadline must come after it.</param>
    public static (ServiceTierRequest? Tier, IReadOnlyList<SubmissionProblem> Problems) Resolve(
        string? serviceTier, string? deadline, DateTimeOffset? runAt, DateTimeOffset now)
    {
        if (TierProblem(serviceTier) is { } tierProblem)
        {
            return (null, [tierProblem]);
        }

        if (deadline is null)
        {
            return (serviceTier is null or ServiceTiers.Standard ? null : new ServiceTierRequest(serviceTier), []);
        }

        if (serviceTier == ServiceTiers.Standard)
        {
            return (null, [new("deadline", "deadline is for the flex and batch tiers: omit service_tier (a deadline implies flex) or send \"service_tier\": \"flex\" or \"batch\".")]);
        }

        return DeadlineProblem(deadline, runAt, now, out var due) is { } problem
            ? (null, [problem])
            : (new ServiceTierRequest(serviceTier ?? ServiceTiers.Flex, due), []);
    }

    private static SubmissionProblem? TierProblem(string? serviceTier) => serviceTier switch
    {
        null or ServiceTiers.Standard or ServiceTiers.Flex or ServiceTiers.Batch => null,
        _ => new("service_tier", $"service_tier must be one of {string.Join(", ", ServiceTiers.Accepted.Select(t => $"\"{t}\""))}; got \"{RunAtInput.Shorten(serviceTier)}\"."),
    };

    private static SubmissionProblem? DeadlineProblem(string deadline, DateTimeOffset? runAt, DateTimeOffset now, out DateTimeOffset due)
    {
        if (!RunAtInput.TryParseRfc3339(deadline, out due))
        {
            return new("deadline", $"deadline must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00Z; got '{RunAtInput.Shorten(deadline)}'.");
        }

        due = due.ToUniversalTime();
        if (due <= now)
        {
            return new("deadline", $"deadline is in the past ({due:O}; now {now.ToUniversalTime():O}).");
        }

        if (runAt is { } start && due <= start)
        {
            return new("deadline", $"deadline ({due:O}) must come after run_at ({start:O}).");
        }

        return due > now.AddSeconds(RunAtInput.MaxDelaySeconds) ? new("deadline", "deadline must be at most a year ahead.") : null;
    }
}
