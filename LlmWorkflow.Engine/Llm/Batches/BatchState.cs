using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Llm.Batches;

/// <summary>
/// A step's batch, as its job's wait records it (<c>wait_data.batch</c>): the <paramref name="Key"/> (the batch's
/// <c>custom_id</c>, and its OpenAI <c>metadata</c>) is stored before the batch is created, its
/// <paramref name="BatchId"/> as soon as the provider gave one; <paramref name="EndedAs"/> once it ended unanswered and
/// the step went on to a standard call (which may itself wait for a budget).
/// </summary>
public sealed record BatchState(string Key, string Provider, string Model, string? BatchId, string? EndedAs = null)
{
    public JsonObject ToJson() => new() { ["key"] = Key, ["provider"] = Provider, ["model"] = Model, ["batch_id"] = BatchId, ["ended_as"] = EndedAs };

    public static BatchState? FromJson(JsonObject? batch) =>
        batch?["key"]?.GetValue<string>() is { } key && batch["provider"]?.GetValue<string>() is { } provider && batch["model"]?.GetValue<string>() is { } model
            ? new BatchState(key, provider, model, batch["batch_id"]?.GetValue<string>(), batch["ended_as"]?.GetValue<string>())
            : null;

    /// <summary>
    /// A new key, random (Anthropic's custom_id allows 64 characters of <c>[a-zA-Z0-9_-]</c>): a step run again from
    /// scratch (a retry from that step) never finds an older run's batch; the stored wait is what makes it durable.
    /// </summary>
    public static string NewKey() => $"lw_{Guid.NewGuid():N}";
}

/// <summary>
/// Thrown by the gateway while a batch call has no answer yet: the step parks (wait kind <c>batch</c>, no worker slot)
/// with <see cref="State"/> and looks again at <see cref="Until"/>. Not a failure.
/// </summary>
public sealed class BatchPendingException(BatchState state, DateTimeOffset until)
    : Exception($"The LLM call waits for batch {state.BatchId ?? "(being created)"} at {state.Provider} until {until:O}.")
{
    public BatchState State { get; } = state;

    public DateTimeOffset Until { get; } = until;
}

/// <summary>What a batch looked like: still running, answered, or ended without an answer (<see cref="EndedAs"/>).</summary>
/// <param name="Answer">The call's answer once the batch completed; its usage is the provider's.</param>
/// <param name="Error">The request's own error (the batch ran it and the provider refused it, as it would a direct call).</param>
/// <param name="EndedAs">expired, failed, cancelled: the batch ended and this request has no answer (not billed).</param>
public sealed record BatchPoll(Microsoft.Extensions.AI.ChatResponse? Answer = null, Exception? Error = null, string? EndedAs = null)
{
    public static readonly BatchPoll Running = new();

    public bool IsRunning => Answer is null && Error is null && EndedAs is null;
}

/// <summary>One provider's batch protocol: find a batch by key, create one holding one call, look at it.</summary>
internal interface IBatchProtocol
{
    /// <summary>The id of the batch created earlier with <paramref name="key"/>, or null (none, or the provider cannot say).</summary>
    Task<string?> FindAsync(string key, CancellationToken cancellationToken);

    /// <summary>Creates a batch of one request, <paramref name="key"/> as its custom_id; returns the batch id.</summary>
    Task<string> CreateAsync(string key, ModelId model, LlmCallRequest request, CancellationToken cancellationToken);

    Task<BatchPoll> PollAsync(string batchId, string key, CancellationToken cancellationToken);
}
