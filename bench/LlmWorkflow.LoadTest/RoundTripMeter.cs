using System.Globalization;
using System.Text.Json.Nodes;
using StackExchange.Redis;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// Counts the round trips a run costs per job: PostgreSQL transactions committed (<c>pg_stat_database</c>) and Redis
/// commands by name (<c>INFO commandstats</c>, reset at the start). They show how well work is batched — e.g. how
/// per-job statements grow as more worker processes split the same jobs into smaller batches. Also the PostgreSQL
/// sessions opened in the window (<c>pg_stat_database.sessions</c>): each is a new backend that starts and prepares
/// its statements anew.
/// </summary>
internal sealed class RoundTripMeter : IAsyncDisposable
{
    private const string CommittedSql = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()";
    private const string SessionsSql = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()";

    private readonly BenchEnvironment _environment;
    private readonly ConnectionMultiplexer _redis;
    private long _committedBefore;
    private long _sessionsBefore;

    private RoundTripMeter(BenchEnvironment environment, ConnectionMultiplexer redis)
    {
        _environment = environment;
        _redis = redis;
    }

    public static async Task<RoundTripMeter> StartAsync(BenchEnvironment environment)
    {
        var meter = new RoundTripMeter(environment, await RedisCommandStats.ConnectAsync(environment));
        await meter._redis.GetDatabase().ExecuteAsync("CONFIG", "RESETSTAT");
        meter._committedBefore = await environment.CountAsync(CommittedSql);
        meter._sessionsBefore = await environment.CountAsync(SessionsSql);
        return meter;
    }

    /// <summary>
    /// Per job since the start: <c>pg_transactions</c>, and <c>redis</c> calls by command; <c>pg_sessions</c> is a count
    /// (the sessions opened since the start), not per job.
    /// </summary>
    public async Task<JsonObject> PerJobAsync(int jobs)
    {
        var committed = await _environment.CountAsync(CommittedSql) - _committedBefore;
        var sessions = await _environment.CountAsync(SessionsSql) - _sessionsBefore;
        var info = await RedisCommandStats.ReadAsync(_redis);
        var redis = new JsonObject();
        // Lines like "cmdstat_xadd:calls=5000,usec=…"; CONFIG and INFO are this meter's own.
        foreach (var line in info.Split('\n', StringSplitOptions.TrimEntries).Where(l => l.StartsWith("cmdstat_", StringComparison.Ordinal)))
        {
            var name = line[8..line.IndexOf(':', StringComparison.Ordinal)];
            if (name.StartsWith("config", StringComparison.Ordinal) || name == "info")
            {
                continue;
            }

            var calls = long.Parse(line.Split("calls=")[1].Split(',')[0], CultureInfo.InvariantCulture);
            redis[name] = Math.Round(calls / (double)jobs, 3);
        }

        return new JsonObject { ["pg_transactions"] = Math.Round(committed / (double)jobs, 3), ["pg_sessions"] = sessions, ["redis"] = redis };
    }

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();
}
