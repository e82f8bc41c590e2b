using System.Diagnostics;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Tests.Redis;

/// <summary>Waits on conditions observed through the server, instead of fixed sleeps.</summary>
internal static class RedisTestHelpers
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>Waits until some client connection is blocked in <paramref name="command"/> (per CLIENT LIST).</summary>
    public static async Task WaitUntilBlockedAsync(IRedisClient observer, string command)
    {
        var ct = TestContext.Current.CancellationToken;
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 5);
        while (true)
        {
            var clients = (await observer.ExecuteAsync("CLIENT", ["LIST"], ct)).AsString()!.Split('\n');
            if (clients.Any(line => line.Contains(" flags=b ", StringComparison.Ordinal) && line.Contains($" cmd={command} ", StringComparison.Ordinal)))
            {
                return;
            }
            Assert.True(Stopwatch.GetTimestamp() < deadline, $"No client got blocked in {command}.");
            await Task.Delay(PollInterval, ct);
        }
    }

    /// <summary>Retries while the client throws <see cref="RedisException"/> (e.g. reconnecting after backoff), up to a deadline.</summary>
    public static async Task<T> RetryAsync<T>(Func<Task<T>> action, TimeSpan within)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                return await action();
            }
            catch (RedisException) when (Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(PollInterval, TestContext.Current.CancellationToken);
            }
        }
    }
}
