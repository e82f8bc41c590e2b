namespace LlmWorkflow.Engine.Llm.Batches;

/// <summary>Section <c>Llm:Batch</c>: how batch jobs' calls are watched while they run at the provider, and priced.</summary>
public sealed class BatchOptions
{
    /// <summary>
    /// How long a job parked on a batch waits before its step looks at the batch again (neither OpenAI nor Anthropic
    /// tell anyone when a batch ends, so a due-time wake is what notices it).
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A batch that ended unanswered (expired, failed, cancelled) is replaced by a standard call while the job's deadline
    /// is more than this far away (always, without a deadline); closer than that the step fails, retryable.
    /// </summary>
    public TimeSpan FallbackMargin { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A batch call's price as a share of the list price: OpenAI and Anthropic bill batches at half.</summary>
    public decimal PriceMultiplier { get; set; } = 0.5m;
}
