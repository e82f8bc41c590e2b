using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// <c>Llm:Outage</c>: when a provider counts as out (docs/ADMISSION.md, "Outages park"). A consecutive-failure rule,
/// not a minimum call count: a rate-limited pace of a few calls a second reaches it within seconds.
/// </summary>
public sealed class ProviderOutageOptions
{
    /// <summary>Failed attempts in a row (5xx, timeout, connection failure; across every worker) that open the breaker.</summary>
    public int ConsecutiveFailures { get; set; } = 3;

    /// <summary>How long the breaker stays open before one call probes the provider; doubled after each failed probe.</summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest wait between probes.</summary>
    public TimeSpan MaxProbeInterval { get; set; } = TimeSpan.FromMinutes(2);
}

/// <summary>A provider's outage breaker: <c>closed</c>, <c>open</c> until <see cref="OpenUntil"/>, or <c>half_open</c> (a probe is out).</summary>
public sealed record ProviderOutageState(string Provider, string State, int ConsecutiveFailures, DateTimeOffset? OpenedAt, DateTimeOffset? OpenUntil);

/// <summary>What a call may do now: go (<see cref="Go"/>), go as the probe, or wait until <see cref="WaitUntil"/>.</summary>
public readonly record struct OutageGate(bool Go, bool Probe, DateTimeOffset? WaitUntil);

/// <summary>The breaker's shared state (Redis in a deployed service: every worker sees one outage).</summary>
public interface IProviderOutageStore
{
    Task<OutageGate> EnterAsync(string provider, TimeSpan probeTimeout);

    /// <summary>A failed attempt; returns when the breaker is open until (it opened now or was), null while closed.</summary>
    Task<DateTimeOffset?> FailedAsync(string provider, ProviderOutageOptions options);

    /// <summary>An answered attempt; true when it closed an open breaker (the parked steps are then woken).</summary>
    Task<bool> AnsweredAsync(string provider);

    Task<ProviderOutageState> StateAsync(string provider);
}

/// <summary>
/// The gateway's view of provider outages: before each attempt it asks the shared breaker (an open provider's step
/// parks, reason <c>outage</c>, holding no slot); each attempt's outcome is reported; a failure that opens the breaker
/// parks the step instead of spending its retries. A store that cannot be reached lets calls through.
/// </summary>
public sealed partial class ProviderOutageBreaker(IProviderOutageStore store, IOptionsMonitor<ProviderOutageOptions> options, ILogger<ProviderOutageBreaker> logger)
{
    public const string Reason = "outage";

    /// <summary>The provider no call is held back for (the mock answers in the process).</summary>
    public const string UnwatchedProvider = "mock";

    /// <summary>Throws <see cref="AdmissionDeferredException"/> while <paramref name="model"/>'s provider is out.</summary>
    public async Task ThrowIfOutAsync(ModelId model, TimeSpan probeTimeout)
    {
        if (model.Provider == UnwatchedProvider)
        {
            return;
        }

        OutageGate gate;
        try
        {
            gate = await store.EnterAsync(model.Provider, probeTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreUnreachable(ex, model.Provider);
            return;
        }

        if (!gate.Go)
        {
            throw new AdmissionDeferredException(model.Provider, Reason, gate.WaitUntil ?? DateTimeOffset.UtcNow + options.CurrentValue.ProbeInterval) { Provider = model.Provider };
        }
    }

    /// <summary>True for the failures that say the provider is out, not that the call was wrong.</summary>
    public static bool IsOutage(WorkflowError error) => error.Type is "provider_unavailable" or "timeout" or "connection_error";

    /// <summary>Reports a failed attempt; the time the provider's steps park until when the breaker is open.</summary>
    public async Task<DateTimeOffset?> FailedAsync(ModelId model)
    {
        try
        {
            var until = await store.FailedAsync(model.Provider, options.CurrentValue).ConfigureAwait(false);
            if (until is { } open)
            {
                LogOpen(model.Provider, open);
            }

            return until;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreUnreachable(ex, model.Provider);
            return null;
        }
    }

    public async Task AnsweredAsync(ModelId model)
    {
        try
        {
            if (await store.AnsweredAsync(model.Provider).ConfigureAwait(false))
            {
                LogClosed(model.Provider);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreUnreachable(ex, model.Provider);
        }
    }

    /// <summary>An answer that admission's script reported closed the breaker (the script woke its parked steps): logged as <see cref="AnsweredAsync"/> logs it.</summary>
    public void ReportClosed(ModelId model) => LogClosed(model.Provider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The outage breaker's store could not be reached for {Provider}; calls go through")]
    private partial void LogStoreUnreachable(Exception ex, string provider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Provider} is out (failures in a row): its steps park until {Until:O}, then one call probes it")]
    private partial void LogOpen(string provider, DateTimeOffset until);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Provider} answered again: the outage breaker closed and its parked steps are woken")]
    private partial void LogClosed(string provider);
}
