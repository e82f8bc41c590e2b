namespace LlmWorkflow.Engine.Llm;

/// <summary>Retries of one model before the gateway falls back to the next one.</summary>
public sealed class LlmRetryOptions
{
    /// <summary>Total attempts per model, the first included.</summary>
    public int MaxAttempts { get; set; } = 3;

    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A provider's Retry-After longer than this is not waited for; the gateway moves on instead.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(60);

    public bool UseJitter { get; set; } = true;
}
