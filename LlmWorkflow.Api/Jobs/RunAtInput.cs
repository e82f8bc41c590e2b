using System.Globalization;
using System.Text.RegularExpressions;

namespace LlmWorkflow.Api.Jobs;

/// <summary>
/// Reads when a job should run from <c>run_at</c> (RFC 3339 with an offset) or <c>delay_seconds</c>, as a submission
/// and a reschedule (<c>PATCH /api/v1/jobs/{id}</c>) accept them; every problem names its field.
/// </summary>
public static partial class RunAtInput
{
    /// <summary>The farthest ahead a job may be scheduled: a year, <c>delay_seconds</c>'s upper bound.</summary>
    public const long MaxDelaySeconds = 31_536_000;

    /// <summary>
    /// The due time, null when neither field is given, or the problems. A <c>run_at</c> must carry its offset (a time
    /// without one means a different instant on every host), be in the future and at most a year ahead.
    /// </summary>
    public static (DateTimeOffset? RunAt, IReadOnlyList<SubmissionProblem> Problems) Resolve(string? runAt, long? delaySeconds, DateTimeOffset now)
    {
        if (runAt is not null && delaySeconds is not null)
        {
            const string both = "Send either run_at or delay_seconds, not both.";
            return (null, [new("run_at", both), new("delay_seconds", both)]);
        }

        if (delaySeconds is { } delay)
        {
            return delay is < 1 or > MaxDelaySeconds
                ? (null, [new("delay_seconds", $"delay_seconds must be between 1 and {MaxDelaySeconds} (a year); got {delay}.")])
                : (now.ToUniversalTime().AddSeconds(delay), []);
        }

        if (runAt is null)
        {
            return (null, []);
        }

        if (!TryParseRfc3339(runAt, out var due))
        {
            return (null, [new("run_at", $"run_at must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00Z or 2026-12-01T10:00:00+01:00; got '{Shorten(runAt)}'.")]);
        }

        if (due <= now)
        {
            return (null, [new("run_at", $"run_at is in the past ({due.ToUniversalTime():O}; now {now.ToUniversalTime():O}). Omit it to run the job now.")]);
        }

        return due > now.AddSeconds(MaxDelaySeconds)
            ? (null, [new("run_at", "run_at must be at most a year ahead.")])
            // Stored and answered in UTC (timestamptz keeps the instant, not the offset).
            : (due.ToUniversalTime(), []);
    }

    /// <summary>
    /// The time a job expires if no worker started it: <paramref name="ttlSeconds"/> after it is due (<paramref name="runAt"/>,
    /// or now); null without a ttl. The ttl is bounded like a delay (1 s to a year).
    /// </summary>
    public static (DateTimeOffset? StartBy, IReadOnlyList<SubmissionProblem> Problems) ResolveStartBy(long? ttlSeconds, DateTimeOffset? runAt, DateTimeOffset now) =>
        ttlSeconds switch
        {
            null => (null, []),
            < 1 or > MaxDelaySeconds => (null, [new("ttl_seconds", $"ttl_seconds must be between 1 and {MaxDelaySeconds} (a year); got {ttlSeconds}.")]),
            { } ttl => ((runAt ?? now.ToUniversalTime()).AddSeconds(ttl), []),
        };

    /// <summary>Reads an RFC 3339 time with its offset (Z or ±hh:mm); false for anything else, a time without an offset included.</summary>
    internal static bool TryParseRfc3339(string text, out DateTimeOffset time)
    {
        time = default;
        return Rfc3339().IsMatch(text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out time);
    }

    internal static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";

    // date "T" time, optional fraction, then Z or ±hh:mm (RFC 3339 section 5.6; "t"/"z" and a space are allowed there too).
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex Rfc3339();
}
