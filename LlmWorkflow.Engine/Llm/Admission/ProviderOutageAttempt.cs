namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// One attempt under the provider's outage breaker, handed by the gateway to admission's middleware (on the attempt's
/// async flow, as <see cref="LlmCallRequest.Current"/> is). Where admission's store does the breaker's work
/// (<see cref="IAdmissionStore.FoldsOutageBreaker"/>) its reservation asks the breaker and its reconcile-and-release
/// reports the answer, and this records that it did; wherever it did not (admission off, no budget for the call, a store
/// that cannot be reached), the breaker's own round trips run as before. Failures are always the breaker's own.
/// </summary>
/// <param name="enter">The breaker is asked before this attempt: the call's first, or a retry (a flex call's fallback to standard is not asked again).</param>
public sealed class ProviderOutageAttempt(ProviderOutageBreaker breaker, ModelId model, TimeSpan probeTimeout, bool enter)
{
    private static readonly AsyncLocal<ProviderOutageAttempt?> CurrentAttempt = new();

    /// <summary>The attempt on this async flow; null when no breaker watches it (admission then asks none).</summary>
    public static ProviderOutageAttempt? Current
    {
        get => CurrentAttempt.Value;
        set => CurrentAttempt.Value = value;
    }

    public string Provider => model.Provider;

    /// <summary>
    /// How long a probe may hold the breaker's probe while the check before this attempt is still to be made; null once
    /// made, or when none is due (a retry-less fallback, or the mock provider, which the breaker never holds back).
    /// </summary>
    public TimeSpan? PendingEntry { get; private set; } = enter && model.Provider != ProviderOutageBreaker.UnwatchedProvider ? probeTimeout : null;

    /// <summary>Null until admission's reconcile-and-release reported the answer to the breaker; then whether that closed it.</summary>
    public bool? AnsweredClosed { get; private set; }

    /// <summary>Admission's reservation asked the breaker (and the call may go).</summary>
    public void Entered() => PendingEntry = null;

    /// <summary>The check before the call by the breaker's own round trip, where admission's reservation did not make it.</summary>
    public async Task EnterSeparatelyAsync()
    {
        if (PendingEntry is { } timeout)
        {
            PendingEntry = null;
            await breaker.ThrowIfOutAsync(model, timeout).ConfigureAwait(false);
        }
    }

    /// <summary>Admission's reconcile-and-release reported the answer; <paramref name="closed"/>: it closed an open breaker.</summary>
    public void Answered(bool closed) => AnsweredClosed = closed;

    /// <summary>After the answer: the breaker is told by its own round trip unless admission's script told it.</summary>
    public Task ReportAnsweredAsync()
    {
        if (AnsweredClosed is not { } closed)
        {
            return breaker.AnsweredAsync(model);
        }

        if (closed)
        {
            breaker.ReportClosed(model);
        }

        return Task.CompletedTask;
    }
}
