namespace LlmWorkflow.Pipeline.Redis;

/// <summary>Collects the replies to one batch of commands, in order, and completes when the last one arrives.</summary>
internal sealed class ReplySink(int count)
    : TaskCompletionSource<RedisValue[]>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    private readonly RedisValue[] _replies = new RedisValue[count];
    private int _received;

    /// <summary>Stores the next reply; true when the batch is complete (and the task has been completed).</summary>
    public bool Add(RedisValue reply)
    {
        _replies[_received++] = reply;
        if (_received < _replies.Length)
        {
            return false;
        }
        TrySetResult(_replies);
        return true;
    }
}
