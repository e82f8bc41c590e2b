namespace LlmWorkflow.Engine.Llm;

/// <summary>What to do after flex refused a call (429 resource unavailable).</summary>
public enum FlexAction
{
    /// <summary>Ask flex again in this worker after <see cref="FlexDecision.Delay"/>.</summary>
    Retry,

    /// <summary>Park the job (no worker slot) until <see cref="FlexDecision.Until"/>, then ask flex again.</summary>
    Park,

    /// <summary>Send the same call at the standard tier now.</summary>
    FallBack,
}

public readonly record struct FlexDecision(FlexAction Action, TimeSpan Delay = default, DateTimeOffset Until = default);

/// <summary>
/// When a refused flex call is asked again and when it gives up on flex: without a deadline at once (nothing says
/// the job can wait); with one, retries with exponential backoff, then parks, for as long as the deadline leaves more
/// than <see cref="FlexOptions.FallbackMargin"/> for the standard call.
/// </summary>
public static class FlexRetryPolicy
{
    /// <param name="retries">How many times this call was already retried at flex in this worker.</param>
    public static FlexDecision Decide(DateTimeOffset? deadline, DateTimeOffset now, int retries, FlexOptions options)
    {
        if (deadline is not { } due || now >= due - options.FallbackMargin)
        {
            return new(FlexAction.FallBack);
        }

        var lastFlexTry = due - options.FallbackMargin;
        if (retries < options.InlineRetries)
        {
            var backoff = options.RetryBaseDelay * Math.Pow(2, retries);
            return new(FlexAction.Retry, Delay: Min(backoff, lastFlexTry - now));
        }

        return new(FlexAction.Park, Until: now + Min(options.ParkDelay, lastFlexTry - now));
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a <= b ? a : b;
}
