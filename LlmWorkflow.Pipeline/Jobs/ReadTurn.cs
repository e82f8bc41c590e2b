using System.Globalization;
using LlmWorkflow.Pipeline.Redis;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// The turn to read the dispatch streams, one per machine: worker processes on one machine share its cores, so splitting
/// a flow between them only makes each claim smaller (every claim costs a claim statement, an ack and a write batch
/// whatever it carries) and adds wake-ups, and on two cores a second and a fourth worker lowered throughput
/// (bench/README.md, "One reader per machine"). The holder renews the turn before each read; the other processes of
/// the same machine wait for it (<see cref="WaitForHandOffAsync"/>) and read only once it is free: when the holder's
/// slots all stayed busy for its pace with some of its jobs waiting on the network (it can take no more work and hands
/// the turn over), it stopped, or it died (the turn lapses after <see cref="Lifetime"/>). Workers on different
/// machines (containers) each have their own turn, so they read as before. A preference, not a lock: two
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

    // Frees the turn if this worker holds it, and leaves one hand-off token (living as long as a turn) that wakes one
    // waiting worker; 1 when it was held.
    private const string GiveUpScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('DEL', KEYS[1], KEYS[2])
            redis.call('RPUSH', KEYS[2], 1)
            redis.call('PEXPIRE', KEYS[2], ARGV[2])
            return 1
        end
        return 0
        """;

    private readonly string _key = $"{queue.Value.KeyPrefix}:read-turn:{queue.Value.ConsumerGroup}:{Environment.MachineName}";
    private string HandOffKey => $"{_key}:hand-off";
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

    /// <summary>Gives the turn away if this worker holds it, and wakes a worker of this machine waiting for it.</summary>
    public async Task GiveUpAsync(CancellationToken cancellationToken)
    {
        if (_enabled)
        {
            await redis.ScriptEvaluateAsync(GiveUpScript, [_key, HandOffKey], [_holder, (long)Lifetime.TotalMilliseconds], cancellationToken);
        }
    }

    /// <summary>
    /// Waits, blocked in Redis rather than asking again and again, until the holder gives the turn up or for as long as
    /// a turn lives (by then a holder that stopped renewing, or died, has let it lapse); then ask with
    /// <see cref="TryTakeAsync"/>. Asking every pace instead cost a waiting worker about 1.6 % of a core under load.
    /// </summary>
    public async Task WaitForHandOffAsync(CancellationToken cancellationToken)
    {
        if (_enabled)
        {
            await redis.ExecuteBlockingAsync("BLPOP", [HandOffKey, Lifetime.TotalSeconds.ToString(CultureInfo.InvariantCulture)], Lifetime, cancellationToken);
        }
    }
}
