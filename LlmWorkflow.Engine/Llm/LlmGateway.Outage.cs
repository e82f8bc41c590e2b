using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm.Admission;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Admission's outage breaker (<see cref="ProviderOutageBreaker"/>, docs/ADMISSION.md) around each attempt, when a host
/// registered one: a provider answering 5xx or nothing parks its steps instead of failing them.
/// </summary>
public sealed partial class LlmGateway
{
    /// <summary>
    /// One attempt under the provider's outage breaker: an open breaker parks the step before the call; an attempt that
    /// opens it parks the step instead of spending the rest of its retries (none was answered, so none is paid twice).
    /// Where admission's middleware wraps the provider's client, the check before the call and the report of its answer
    /// ride in admission's reservation and reconcile-and-release (one script each, no round trip of the breaker's own)
    /// whenever those run for the attempt (<see cref="ProviderOutageAttempt"/>); the breaker's own round trips otherwise.
    /// </summary>
    /// <param name="enter">The breaker is asked before this attempt (a retry; the first where admission asks it).</param>
    private async ValueTask<ChatResponse> InvokeWatchedAsync(
        IChatClient client, ModelId model, LlmCallRequest request, ChatOptions options, bool flex, bool enter, CancellationToken attemptToken,
        CancellationToken callToken)
    {
        if (_outage is null)
        {
            return await InvokeAsync(client, model, request, options, flex, attemptToken).ConfigureAwait(false);
        }

        var attempt = FoldsBreaker(client) ? new ProviderOutageAttempt(_outage, model, ProbeTimeout(flex), enter) : null;
        if (attempt is null && enter)
        {
            await _outage.ThrowIfOutAsync(model, ProbeTimeout(flex)).ConfigureAwait(false);
        }

        DateTimeOffset? openUntil;
        try
        {
            ProviderOutageAttempt.Current = attempt;
            var answer = await InvokeAsync(client, model, request, options, flex, attemptToken).ConfigureAwait(false);
            await (attempt?.ReportAnsweredAsync() ?? _outage.AnsweredAsync(model)).ConfigureAwait(false);
            return answer;
        }
        catch (WorkflowException failure) when (ProviderOutageBreaker.IsOutage(failure.Error))
        {
            openUntil = await _outage.FailedAsync(model).ConfigureAwait(false);
            if (openUntil is null)
            {
                throw;
            }
        }
        catch (OperationCanceledException) when (attemptToken.IsCancellationRequested && !callToken.IsCancellationRequested)
        {
            // The attempt timed out (Polly cancelled it): a failure the health view and the breaker count.
            _health?.Failed(model, WorkflowException.External("timeout", $"{model} did not answer in time.", retryable: true).Error);
            openUntil = await _outage.FailedAsync(model).ConfigureAwait(false);
            if (openUntil is null)
            {
                throw;
            }
        }

        // Nothing was answered (admission's middleware gave the attempt's reservation back).
        throw new AdmissionDeferredException(model.Provider, ProviderOutageBreaker.Reason, openUntil.Value) { Provider = model.Provider };
    }

    /// <summary>A provider that is out parks the step before anything is sent (or reserved by admission's middleware).</summary>
    private Task ThrowIfOutAsync(ModelId model, bool flex) => _outage is null ? Task.CompletedTask : _outage.ThrowIfOutAsync(model, ProbeTimeout(flex));

    /// <summary>What a call whose attempts all timed out throws: the park when the failure opened the breaker, else <paramref name="failure"/>.</summary>
    private async Task<Exception> OutageOrAsync(ModelId model, WorkflowException failure) =>
        _outage is not null && await _outage.FailedAsync(model).ConfigureAwait(false) is { } until
            ? new AdmissionDeferredException(model.Provider, ProviderOutageBreaker.Reason, until) { Provider = model.Provider }
            : failure;

    /// <summary>True when admission's middleware wraps <paramref name="client"/>: it then carries the breaker's checks (<see cref="ProviderOutageAttempt"/>).</summary>
    private bool FoldsBreaker(IChatClient client) => _outage is not null && client.GetService<AdmissionChatClient>() is not null;

    /// <summary>How long a probe call holds the breaker's probe: its attempt's timeout.</summary>
    private TimeSpan ProbeTimeout(bool flex) => flex ? _providers.Options.Flex.AttemptTimeout : _providers.Options.AttemptTimeout;
}
