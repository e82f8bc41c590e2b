namespace LlmWorkflow.Storage.Jobs;

/// <summary>Lifecycle of a job, stored as lowercase text (the documents' values).</summary>
public enum JobStatus
{
    Pending,
    Queued,
    Processing,
    Completed,
    Failed,
    Cancelled,

    /// <summary>Accepted with a <c>run_at</c> still ahead: it holds no worker slot and is queued when it is due.</summary>
    Scheduled,

    /// <summary>Parked mid-run by a step (a <c>sleep</c>) until its time: no worker slot held; queued again when due.</summary>
    Waiting,
}

public static class JobStatusNames
{
    public static string ToWire(this JobStatus status) => status switch
    {
        JobStatus.Pending => "pending",
        JobStatus.Queued => "queued",
        JobStatus.Processing => "processing",
        JobStatus.Completed => "completed",
        JobStatus.Failed => "failed",
        JobStatus.Cancelled => "cancelled",
        JobStatus.Scheduled => "scheduled",
        JobStatus.Waiting => "waiting",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public static bool TryParse(string? text, out JobStatus status)
    {
        foreach (var candidate in Enum.GetValues<JobStatus>())
        {
            if (string.Equals(candidate.ToWire(), text, StringComparison.OrdinalIgnoreCase))
            {
                status = candidate;
                return true;
            }
        }

        status = default;
        return false;
    }

    public static bool IsTerminal(this JobStatus status) =>
        status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;

    public static IReadOnlyList<string> All { get; } = Enum.GetValues<JobStatus>().Select(s => s.ToWire()).ToArray();
}
