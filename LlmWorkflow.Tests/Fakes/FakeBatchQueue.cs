using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>
/// The batches a fake provider was given: each holds its requests (custom_id and body) and stays running until the test
/// ends it (<see cref="Finish"/>, <see cref="Expire"/>), so no test sleeps for a batch. Shared by the OpenAI and
/// Anthropic fakes, which render it in their API's shape.
/// </summary>
public sealed class FakeBatchQueue(string idPrefix)
{
    private readonly ConcurrentDictionary<string, FakeBatch> _batches = new();
    private readonly TaskCompletionSource<string> _firstCreated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _created;

    /// <summary>How many batches were created.</summary>
    public int Created => Volatile.Read(ref _created);

    /// <summary>Completes with the first batch's id when it is created.</summary>
    public Task<string> FirstCreated => _firstCreated.Task;

    public IReadOnlyCollection<FakeBatch> All => [.. _batches.Values.OrderBy(b => b.Number)];

    /// <summary>Every running batch completes: its requests are answered.</summary>
    public void Finish() => End(FakeBatchStatus.Completed);

    /// <summary>Every running batch expires: its requests have no answer.</summary>
    public void Expire() => End(FakeBatchStatus.Expired);

    public FakeBatch? Find(string id) => _batches.GetValueOrDefault(id);

    internal FakeBatch Add(IReadOnlyList<(string CustomId, JsonObject Body)> requests, JsonObject? metadata)
    {
        var number = Interlocked.Increment(ref _created);
        var batch = new FakeBatch($"{idPrefix}{number}", number, requests, metadata);
        _batches[batch.Id] = batch;
        _firstCreated.TrySetResult(batch.Id);
        return batch;
    }

    private void End(FakeBatchStatus status)
    {
        foreach (var batch in _batches.Values.Where(b => b.Status == FakeBatchStatus.Running))
        {
            batch.Status = status;
        }
    }
}

public enum FakeBatchStatus
{
    Running,
    Completed,
    Expired,
}

public sealed class FakeBatch(string id, int number, IReadOnlyList<(string CustomId, JsonObject Body)> requests, JsonObject? metadata)
{
    public string Id { get; } = id;

    public int Number { get; } = number;

    public IReadOnlyList<(string CustomId, JsonObject Body)> Requests { get; } = requests;

    public JsonObject? Metadata { get; } = metadata;

    public FakeBatchStatus Status { get; set; } = FakeBatchStatus.Running;
}
