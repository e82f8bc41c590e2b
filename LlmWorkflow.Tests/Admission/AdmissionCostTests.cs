using System.Globalization;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Storage.Admission;
using LlmWorkflow.Tests.Hosting;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.LocalServers;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// What a reservation costs Redis must not grow with the calls in the window (issues 78/79): every LLM call reserves,
/// and a busy provider's window holds thousands of calls. Counted as Redis itself counts them (INFO commandstats, the
/// commands the script ran, SLOWLOG each call's duration) on a redis-server of the test's own, so no other test's commands count.
/// </summary>
[IntegrationTest]
public sealed class AdmissionCostTests
{
    private const int Reservations = 20;

    private static readonly AdmissionSettings Settings = new() { Window = TimeSpan.FromMinutes(10), LeaseTimeout = TimeSpan.FromMinutes(5) };

    // Limits no reservation here comes near: every call is admitted, each on the path a busy provider's calls take.
    private static readonly List<(string Scope, LlmLimit Limit)> Scopes =
    [
        ("openai", new LlmLimit { RequestsPerMinute = 10_000_000, TokensPerMinute = 2_000_000_000 }),
        ("openai/gpt-4o", new LlmLimit { TokensPerMinute = 2_000_000_000 }),
    ];

    [Fact]
    public async Task AReservationWithThousandsOfCallsInTheWindowTakesRedisNoLongerThanOneWithTen()
    {
        var ct = TestContext.Current.CancellationToken;
        using var folder = new TemporaryDirectory();
        await using var server = new LocalRedis(new LocalRedisOptions { DataDirectory = folder.Path });
        await server.StartAsync(ct);
        await using var redis = await ConnectionMultiplexer.ConnectAsync($"{server.ConnectionString},allowAdmin=true,asyncTimeout=60000,syncTimeout=60000");
        var admin = redis.GetServers()[0];

        // ADMISSION_COST_ENTRIES=1000,10000 measures the figures docs/ADMISSION.md quotes.
        var sizes = (Environment.GetEnvironmentVariable("ADMISSION_COST_ENTRIES") ?? "10,5000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
        var stores = new List<RedisAdmissionStore>();
        foreach (var size in sizes)
        {
            var store = await FilledAsync(redis, size);
            var (commands, usecPerEval) = await CommandStatsOfAsync(admin, store, $"{size}-counted");
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"{size} calls in the window: {commands:F1} Redis commands a reservation and its reconcile, EVALSHA usec_per_call {usecPerEval:F1}");
            stores.Add(store);
        }

        // Timed by Redis (SLOWLOG keeps every command's own duration), the windows' reservations taking turns: a busy
        // machine slows both alike. Medians, so one preempted call does not decide.
        await admin.ExecuteAsync("CONFIG", "SET", "slowlog-log-slower-than", "0");
        await admin.ExecuteAsync("CONFIG", "SET", "slowlog-max-len", "10000");
        await admin.ExecuteAsync("SLOWLOG", "RESET");
        for (var i = 0; i < TimedReservations; i++)
        {
            foreach (var store in stores)
            {
                Assert.True((await store.ReserveAsync($"timed-{i}", Scopes, new(1, 100, 50), Settings, fairShare: Small)).IsReserved);
            }
        }

        var medians = await ReservationMediansAsync(admin, sizes);
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", sizes.Select(size => $"{size} calls: median {medians[size]} us a reservation")));
        // Reading every call (before the running totals) took 32 ms with 5,000 calls against 0.1 ms with 10; totals take the same.
        Assert.InRange(medians[sizes[^1]], 0, 3 * medians[sizes[0]] + 50);
    }

    private const int TimedReservations = 40;

    // ADMISSION_COST_FAIR=0: calls without a tenant (no fair shares, no burst reserve), the scopes' sums alone.
    private static readonly bool Fair = Environment.GetEnvironmentVariable("ADMISSION_COST_FAIR") != "0";

    private static readonly FairShare? Small = Fair ? new("small", 1) : null;

    /// <summary>
    /// A window of <paramref name="entries"/> calls of another tenant (seen on the scope, so the burst reserve weighs
    /// this tenant's share against theirs), and one reservation of this tenant: whatever a window costs once is paid.
    /// </summary>
    private static async Task<RedisAdmissionStore> FilledAsync(ConnectionMultiplexer redis, int entries)
    {
        var store = new RedisAdmissionStore(redis, $"cost-{entries}:");
        var flood = Fair ? new FairShare("flood", 1) : null;
        for (var first = 0; first < entries; first += 100)
        {
            await Task.WhenAll(Enumerable.Range(first, Math.Min(100, entries - first))
                .Select(i => store.ReserveAsync($"fill-{i}", Scopes, new(1, 100, 50), Settings, fairShare: flood)));
        }

        Assert.True((await store.ReserveAsync("warm", Scopes, new(1, 100, 50), Settings, fairShare: Small)).IsReserved);
        return store;
    }

    /// <summary>What <see cref="Reservations"/> reservations and their reconciles cost, by INFO commandstats.</summary>
    private static async Task<(double Commands, double UsecPerEval)> CommandStatsOfAsync(IServer admin, RedisAdmissionStore store, string lease)
    {
        await admin.ExecuteAsync("CONFIG", "RESETSTAT");
        for (var i = 0; i < Reservations; i++)
        {
            Assert.True((await store.ReserveAsync($"{lease}-{i}", Scopes, new(1, 100, 50), Settings, fairShare: Small)).IsReserved);
            await store.ReconcileAsync($"{lease}-{i}", ["openai", "openai/gpt-4o"], new(1, 80, 20), Settings);
        }

        var stats = CommandStats((string)(await admin.ExecuteAsync("INFO", "commandstats"))!);
        var commands = stats.Where(s => s.Key is not ("info" or "config|resetstat" or "evalsha" or "eval")).Sum(s => s.Value.Calls);
        var evals = stats.GetValueOrDefault("evalsha");
        return ((double)commands / Reservations, evals.Calls == 0 ? 0 : evals.Usec / evals.Calls);
    }

    /// <summary>The median duration (us) of the reservations SLOWLOG holds, by window size (told by the key prefix).</summary>
    private static async Task<Dictionary<int, long>> ReservationMediansAsync(IServer admin, List<int> sizes)
    {
        // Each entry: id, time, duration (us), the command's arguments (EVALSHA sha numkeys key…), client, name.
        var entries = (RedisResult[])(await admin.ExecuteAsync("SLOWLOG", "GET", "-1"))!;
        var durations = sizes.ToDictionary(size => size, _ => new List<long>());
        foreach (var entry in entries.Select(e => (RedisResult[])e!))
        {
            var command = ((RedisResult[])entry[3]!).Select(a => (string)a!).ToList();
            if (command.Count > 3 && command[0].Equals("evalsha", StringComparison.OrdinalIgnoreCase)
                && sizes.FirstOrDefault(size => command[3].StartsWith($"cost-{size}:", StringComparison.Ordinal)) is var size and > 0)
            {
                durations[size].Add((long)entry[2]);
            }
        }

        Assert.All(durations.Values, list => Assert.Equal(TimedReservations, list.Count));
        return durations.ToDictionary(d => d.Key, d => d.Value.Order().ElementAt(d.Value.Count / 2));
    }

    /// <summary>cmdstat_&lt;name&gt;:calls=N,usec=N,… lines of INFO commandstats by command name.</summary>
    private static Dictionary<string, (long Calls, double Usec)> CommandStats(string info) =>
        info.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.StartsWith("cmdstat_", StringComparison.Ordinal))
            .Select(line => line["cmdstat_".Length..].Split(':', 2))
            .ToDictionary(
                parts => parts[0],
                parts => parts[1].Split(',').Select(field => field.Split('=')).ToDictionary(f => f[0], f => f[1]) is var fields
                    ? (long.Parse(fields["calls"], CultureInfo.InvariantCulture), double.Parse(fields["usec"], CultureInfo.InvariantCulture))
                    : default);
}
