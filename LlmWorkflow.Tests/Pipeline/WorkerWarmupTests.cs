using LlmWorkflow.Pipeline.Redis;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The worker's start-up warm-up (<c>WorkerWarmup</c>): with its dependencies up it rehearses an LLM call and runs a
/// job's statements before the consumer reads its first job (a rehearsal that fails is a warning, which the first test
/// rules out) and leaves no trace (no job, step, usage or webhook row, no live-event stream); with Redis unreachable it
/// gives up within its bound and reports that it is incomplete instead of failing the start.
/// </summary>
public sealed class WorkerWarmupTests(TestServers servers)
{
    private const string Category = "LlmWorkflow.Worker.Jobs.WorkerWarmup";

    [Fact]
    public async Task WarmsUpBeforeTheFirstJobIsReadAndChangesNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(WorkerWarmupTests));
        var logs = new CapturingLoggerProvider();
        await using var worker = await WorkerHost.StartAsync(environment.Settings(), ct, logs);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!logs.Lines.Any(l => l.Message.StartsWith("Worker started", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, ct);
        }

        var lines = logs.Lines.ToList();
        var warm = lines.FindIndex(l => l.Category == Category && l.Level == LogLevel.Information && l.Message.StartsWith("Warm for the first jobs", StringComparison.Ordinal));
        var reading = lines.FindIndex(l => l.Message.StartsWith("Worker started", StringComparison.Ordinal));
        Assert.True(warm >= 0, "the warm-up reported that it finished");
        Assert.True(reading > warm, "the consumer started reading after the warm-up finished");
        Assert.DoesNotContain(lines, l => l.Category == Category && l.Level >= LogLevel.Warning);

        foreach (var table in new[] { "llm_workflow_jobs", "llm_job_steps", "llm_provider_usage", "llm_webhook_attempts" })
        {
            Assert.Equal(0L, Convert.ToInt64(await TestSql.ScalarAsync(environment.PostgresConnectionString, $"SELECT count(*) FROM {table}", ct)));
        }

        var redis = worker.Services.GetRequiredService<IRedisClient>();
        var keys = (await redis.ExecuteAsync("KEYS", [$"{environment.KeyPrefix}:*"], ct)).AsArray().Select(k => k.AsString()!).ToList();
        Assert.DoesNotContain(keys, k => k.StartsWith($"{environment.KeyPrefix}:events:", StringComparison.Ordinal));
        foreach (var stream in keys.Where(k => k.StartsWith($"{environment.KeyPrefix}:jobs:", StringComparison.Ordinal)))
        {
            Assert.Equal(0L, (await redis.ExecuteAsync("XLEN", [stream], ct)).AsInt64());
        }
    }

    [Fact]
    public async Task AnUnreachableRedisEndsTheWarmupWithAWarningNotAFailedStart()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(WorkerWarmupTests) + "Cold");
        var logs = new CapturingLoggerProvider();
        // Nothing listens on port 1: every Redis command fails.
        await using var worker = await WorkerHost.StartAsync(
            environment.Settings(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = "127.0.0.1:1" }), ct, logs);

        Assert.Contains(logs.Lines, l => l.Category == Category && l.Level == LogLevel.Warning && l.Message.StartsWith("Warm-up incomplete", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, l => l.Category == Category && l.Level == LogLevel.Information);
    }
}
