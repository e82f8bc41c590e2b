using LlmWorkflow.Pipeline.Redis;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// The turn to read the dispatch streams, one per machine: worker processes on one machine share its cores, so splitting
/// a flow between them only makes each claim smaller (every claim costs a claim statement, an ack and a write batch
/// whatever it carries) and adds wake-ups, and on two cores a second and a fourth worker lowered throughput
/// (bench/README.md, "One reader per machine"). The holder renews the turn before each read; another process of the
/// same machine reads only when the turn is free: when the holder's slots all stayed busy for its pace (it can take no
/// more work and gives the turn away), it stopped, or it died (the turn lapses after <see cref="Lifetime"/>). Workers
/// on different machines (containers) each have their own turn, so they read as before. A preference, not a lock: two
/// holders at once (a lapse under a slow cycle) only read as workers did without it, and a Redis error is the read's
/// own error.
/// </summary>
public sealed class ReadTurn(IRedisClient redis, IOptions<QueueOptions> queue, IOptions<WorkerOptions> worker)
{
    // Takes the turn if it is free or ours, and (re)sets its lifetime; 1 when this worker holds it.
    private const string TakeScript = """
        local holder = redis.call('GET', KEYS[1])
        if holder == false or holder == ARGV[1] then
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            return 1
        end
        return 0
        """;

    private const string GiveUpScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
        end
        return 0
        """;

    private readonly string _key = $"{queue.Value.KeyPrefix}:read-turn:{queue.Value.ConsumerGroup}:{Environment.MachineName}";
    private readonly string _holder = worker.Value.Id;

    /// <summary>
    /// How long a turn lasts unless renewed: longer than a holder's cycle (its pace, a read, a claim), short enough
    /// that the others read soon after a holder dies.
    /// </summary>
    public TimeSpan Lifetime { get; } = TimeSpan.FromMilliseconds(500) + 2 * worker.Value.BatchLinger;

    // Off (WorkerOptions.OneReaderPerMachine false): every worker reads, and no key is written.
    private readonly bool _enabled = worker.Value.OneReaderPerMachine;

    /// <summary>Takes or renews the turn; false when another worker of this machine holds it.</summary>
    public async Task<bool> TryTakeAsync(CancellationToken cancellationToken) =>
        !_enabled || (await redis.ScriptEvaluateAsync(TakeScript, [_key], [_holder, (long)Lifetime.TotalMilliseconds], cancellationToken)).AsInt64() == 1;

    /// <summary>Gives the turn away if this worker holds it, so another worker of this machine reads next.</summary>
    public async Task GiveUpAsync(CancellationToken cancellationToken)
    {
        if (_enabled)
        {
            await redis.ScriptEvaluateAsync(GiveUpScript, [_key], [_holder], cancellationToken);
        }
    }
}
