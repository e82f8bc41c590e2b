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
/// commands the script ran) on a redis-server of the test's own, so no other test's commands are counted.
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
    public async Task AReservationRunsAsManyRedisCommandsWithThousandsOfCallsInTheWindowAsWithTen()
    {
        var ct = TestContext.Current.CancellationToken;
        using var folder = new TemporaryDirectory();
        await using var server = new LocalRedis(new LocalRedisOptions { DataDirectory = folder.Path });
        await server.StartAsync(ct);
        await using var redis = await ConnectionMultiplexer.ConnectAsync($"{server.ConnectionString},allowAdmin=true,asyncTimeout=600000,syncTimeout=600000");

        // ADMISSION_COST_ENTRIES=1000,10000 measures the figures docs/ADMISSION.md quotes.
        var sizes = (Environment.GetEnvironmentVariable("ADMISSION_COST_ENTRIES") ?? "10,5000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
        var commandsPerReservation = new List<double>();
        foreach (var size in sizes)
        {
            var (commands, usecPerEval) = await MeasureAsync(redis, size);
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"{size} calls in the window: {commands:F1} Redis commands and {usecPerEval:F1} us of EVALSHA per reservation");
            commandsPerReservation.Add(commands);
        }

        Assert.All(commandsPerReservation, commands => Assert.Equal(commandsPerReservation[0], commands));
    }

    /// <summary>
    /// Fills the window with <paramref name="entries"/> calls of another tenant (seen on the scope, so the burst reserve
    /// weighs this tenant's share), then counts what <see cref="Reservations"/> more reservations and their settling cost.
    /// </summary>
    private static async Task<(double Commands, double UsecPerEval)> MeasureAsync(ConnectionMultiplexer redis, int entries)
    {
        var store = new RedisAdmissionStore(redis, $"cost-{entries}:");
        var flood = new FairShare("flood", 1);
        for (var first = 0; first < entries; first += 100)
        {
            await Task.WhenAll(Enumerable.Range(first, Math.Min(100, entries - first))
                .Select(i => store.ReserveAsync($"fill-{i}", Scopes, new(1, 100, 50), Settings, fairShare: flood)));
        }

        var mine = new FairShare("small", 1);
        // One before counting: whatever a window costs once (not per call) is paid here.
        Assert.True((await store.ReserveAsync("warm", Scopes, new(1, 100, 50), Settings, fairShare: mine)).IsReserved);
        var server = redis.GetServers()[0];
        await server.ExecuteAsync("CONFIG", "RESETSTAT");
        for (var i = 0; i < Reservations; i++)
        {
            Assert.True((await store.ReserveAsync($"call-{i}", Scopes, new(1, 100, 50), Settings, fairShare: mine)).IsReserved);
            await store.ReconcileAsync($"call-{i}", ["openai", "openai/gpt-4o"], new(1, 80, 20), Settings);
        }

        var stats = CommandStats((string)(await server.ExecuteAsync("INFO", "commandstats"))!);
        var commands = stats.Where(s => s.Key is not ("info" or "config|resetstat" or "evalsha" or "eval")).Sum(s => s.Value.Calls);
        var evals = stats.GetValueOrDefault("evalsha");
        return ((double)commands / Reservations, evals.Calls == 0 ? 0 : evals.Usec / evals.Calls);
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
