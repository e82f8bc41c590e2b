using StackExchange.Redis;

namespace LlmWorkflow.LoadTest;

/// <summary>Redis's own count of the commands it ran (<c>INFO commandstats</c>), read over a connection of the tool's own.</summary>
internal static class RedisCommandStats
{
    public static Task<ConnectionMultiplexer> ConnectAsync(BenchEnvironment environment) =>
        ConnectionMultiplexer.ConnectAsync(environment.Settings["ConnectionStrings__redis"] + ",allowAdmin=true");

    /// <summary>The INFO commandstats text: lines like <c>cmdstat_xadd:calls=5000,usec=…</c>.</summary>
    public static async Task<string> ReadAsync(ConnectionMultiplexer redis) =>
        (string?)await redis.GetDatabase().ExecuteAsync("INFO", "commandstats") ?? "";
}
