namespace LlmWorkflow.Engine.Llm;

/// <summary>Section <c>Llm:Flex</c>: how flex calls wait and when they give up on the cheaper tier.</summary>
public sealed class FlexOptions
{
    /// <summary>
    /// A flex call refused with "429 resource unavailable" falls back to standard once the job's deadline is less than
    /// this far away: the standard call then still has time to answer before the deadline.
    /// </summary>
    public TimeSpan FallbackMargin { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The first in-worker wait before asking flex again; each further retry waits twice as long.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How many times a refused flex call is retried in its worker before the job parks (holding no slot) for
    /// <see cref="ParkDelay"/> and tries again on any worker.
    /// </summary>
    public int InlineRetries { get; set; } = 3;

    /// <summary>How long a job parks after its in-worker flex retries were refused too.</summary>
    public TimeSpan ParkDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The limit of one flex attempt (OpenAI: flex answers are slower; its SDKs raise their default 10 minutes to 15).
    /// Standard attempts keep <see cref="LlmOptions.AttemptTimeout"/>.
    /// </summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// A flex call's price as a share of the list price: OpenAI bills flex at its Batch API rates, half of the list
    /// price for every model that offers flex.
    /// </summary>
    public decimal PriceMultiplier { get; set; } = 0.5m;
}
