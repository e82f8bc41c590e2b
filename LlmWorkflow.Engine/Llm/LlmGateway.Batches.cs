using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm.Batches;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// The batch tier (docs/ADMISSION.md, "Batch"): a batch job's call to a provider with a Batch API is sent as a batch
/// of one request, and the step parks (wait kind <c>batch</c>, no worker slot) until the batch ends, looking at it every
/// <see cref="BatchOptions.PollInterval"/> (the providers push nothing). In three steps, each a park: a key is
/// recorded (stored in the job's wait before any batch exists); the batch is found by that key or created, and its id
/// recorded; the batch is looked at until it ends. A step resumed with a batch id never creates another, and one resumed
/// with only the key looks for its batch first (OpenAI: by metadata), so a crash between creating and recording is not
/// paid twice. Batch calls bypass admission: the providers queue batches apart from the per-minute limits.
/// </summary>
public sealed partial class LlmGateway
{
    /// <summary>The protocol that sends this call as a batch, or null: not a batch job, or its provider has no Batch API.</summary>
    private IBatchProtocol? BatchProtocol(ModelId model, LlmCallRequest request)
    {
        if (request.ServiceTier is not { IsBatch: true })
        {
            return null;
        }

        if (request.ServiceTier.BesideOthers)
        {
            LogBatchBesideOthers(model.ToString(), request.StepId);
            return null;
        }

        if (_providers.Find(model.Provider) is not { SupportsBatch: true, BaseUrl: not null } provider)
        {
            LogBatchNotOffered(model.ToString());
            return null;
        }

        return provider.Kind == ProviderKind.Anthropic ? new AnthropicBatchClient(_providers.Http, provider) : new OpenAiBatchClient(_providers.Http, provider);
    }

    /// <summary>A step resumed on its batch starts at the batch's model: the models before it in the chain failed already.</summary>
    private static IEnumerable<string> ModelsToTry(LlmCallRequest request) =>
        request.Batch is { } batch && request.Models.Contains(batch.Model) ? request.Models.SkipWhile(m => m != batch.Model) : request.Models;

    /// <summary>
    /// The batch call's next step: parks (<see cref="BatchPendingException"/>) until there is an answer, which it prices
    /// at the batch rate; when the batch ended unanswered and the deadline leaves time, the answer of
    /// <paramref name="standardCall"/>.
    /// </summary>
    private async Task<LlmCallResult> CallInBatchAsync(
        IBatchProtocol batches, ModelId model, LlmCallRequest request, Func<Task<LlmCallResult>> standardCall, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var settings = _providers.Options.Batch;
        if (request.Batch is not { } state || state.Model != model.ToString())
        {
            // Nothing is created before the key is stored: the job parks with it and is due again at once.
            throw new BatchPendingException(new BatchState(BatchState.NewKey(), model.Provider, model.ToString(), null), now);
        }

        if (state.EndedAs is not null)
        {
            return await FallBackAsync(state, standardCall).ConfigureAwait(false); // its standard call waited for a budget
        }

        if (state.BatchId is null)
        {
            var found = await AtProviderAsync(model, state, () => batches.FindAsync(state.Key, cancellationToken)).ConfigureAwait(false);
            var id = found ?? await AtProviderAsync(model, state, () => batches.CreateAsync(state.Key, model, request, cancellationToken)).ConfigureAwait(false);
            CountBatch(found is null ? "created" : "adopted");
            LogBatchCreated(model.ToString(), id, found is not null);
            throw new BatchPendingException(state with { BatchId = id }, now + settings.PollInterval);
        }

        var poll = await AtProviderAsync(model, state, () => batches.PollAsync(state.BatchId, state.Key, cancellationToken)).ConfigureAwait(false);
        if (poll.IsRunning)
        {
            throw new BatchPendingException(state, now + settings.PollInterval);
        }

        if (poll.Answer is { } answer)
        {
            CountBatch("completed");
            _health?.Answered(model);
            return Price(model, request, answer, ServiceTiers.Batch);
        }

        if (poll.Error is { } error)
        {
            // The batch ran the request and the provider refused it: the same failure a direct call would have had.
            CountBatch("errored");
            throw LlmErrorClassifier.Classify(error, model, _providers.Find(model.Provider));
        }

        CountBatch(poll.EndedAs!);
        if (request.ServiceTier!.Deadline is { } deadline && deadline - now <= settings.FallbackMargin)
        {
            throw new WorkflowException(WorkflowException.External($"batch_{poll.EndedAs}",
                $"Batch {state.BatchId} at {model.Provider} ended {poll.EndedAs} without an answer, and the job's deadline ({deadline:O}) leaves no time for a standard call.",
                retryable: true).Error);
        }

        CountBatch("fallback");
        LogBatchFallBack(model.ToString(), state.BatchId, poll.EndedAs!);
        return await FallBackAsync(state with { EndedAs = poll.EndedAs }, standardCall).ConfigureAwait(false);
    }

    /// <summary>
    /// The standard call that replaces an unanswered batch. If its budget does not fit now it parks as a batch wait that
    /// remembers the batch ended, so the resumed step goes straight back to the standard call instead of a new batch.
    /// </summary>
    private static async Task<LlmCallResult> FallBackAsync(BatchState ended, Func<Task<LlmCallResult>> standardCall)
    {
        try
        {
            return await standardCall().ConfigureAwait(false);
        }
        catch (Admission.AdmissionDeferredException deferred)
        {
            throw new BatchPendingException(ended, deferred.Until);
        }
    }

    /// <summary>
    /// One exchange with the Batch API. A passing failure (429, 5xx, a timeout) parks the step to try again at the next
    /// look, keeping what it recorded; any other is the call's failure, classified like a chat call's.
    /// </summary>
    private async Task<T> AtProviderAsync<T>(ModelId model, BatchState state, Func<Task<T>> exchange)
    {
        try
        {
            return await exchange().ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not (OperationCanceledException or BatchPendingException))
        {
            var classified = LlmErrorClassifier.Classify(exception, model, _providers.Find(model.Provider));
            _health?.Failed(model, classified.Error);
            if (!classified.Error.Retryable)
            {
                throw classified;
            }

            LogBatchLookFailed(model.ToString(), classified.Error.Message);
            throw new BatchPendingException(state, _time.GetUtcNow() + _providers.Options.Batch.PollInterval);
        }
    }

    private static void CountBatch(string outcome) =>
        Telemetry.Batches.Add(1, new KeyValuePair<string, object?>("llmworkflow.batch.outcome", outcome));

    [LoggerMessage(Level = LogLevel.Information, Message = "{Model} has no Batch API here; the batch job's call runs at standard")]
    private partial void LogBatchNotOffered(string model);

    [LoggerMessage(Level = LogLevel.Information, Message = "Step {StepId} calls {Model} beside other steps (parallel or for_each), where a job records one wait; the batch job's call runs at standard")]
    private partial void LogBatchBesideOthers(string model, string? stepId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch {BatchId} holds the call to {Model} (found by its key after a restart: {Adopted})")]
    private partial void LogBatchCreated(string model, string batchId, bool adopted);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch {BatchId} for {Model} ended {Outcome} without an answer; the call is sent at standard")]
    private partial void LogBatchFallBack(string model, string batchId, string outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Batch API of {Model} failed for now ({ErrorMessage}); looking again at the next poll")]
    private partial void LogBatchLookFailed(string model, string errorMessage);
}
