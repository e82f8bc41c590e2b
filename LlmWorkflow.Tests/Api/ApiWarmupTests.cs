using LlmWorkflow.Pipeline.Redis;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Tests.Api;

/// <summary>
/// The API's start-up warm-up (<c>ApiWarmup</c>) and the submission the server rehearses through the request pipeline
/// before it listens (<c>RehearsingServer</c>, checked in the real API process: tests host the API on TestServer,
/// which replaces the wrapped Kestrel): with their dependencies up both finish before the first request and leave no
/// trace (no job, no stream entry, no key); with Redis unreachable the API still starts and answers, both reporting that
/// they are incomplete.
/// </summary>
public sealed class ApiWarmupTests(TestServers servers)
{
    private const string Category = "LlmWorkflow.Api.Infrastructure.ApiWarmup";

    [Fact]
    public async Task WarmsUpBeforeTheFirstRequestAndChangesNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(ApiWarmupTests));
        var logs = new CapturingLoggerProvider();
        await using var factory = new ApiFactory(environment.Settings());
        await using var api = factory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(logs)));
        using var client = api.CreateClient();

        using var health = await client.GetAsync("/alive", ct);
        Assert.True(health.IsSuccessStatusCode);
        Assert.Contains(logs.Lines, l => l.Category == Category && l.Level == LogLevel.Information && l.Message.StartsWith("Warm for the first requests", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, l => l.Category == Category && l.Level >= LogLevel.Warning);
        Assert.Equal(0L, Convert.ToInt64(await TestSql.ScalarAsync(environment.PostgresConnectionString, "SELECT count(*) FROM llm_workflow_jobs", ct)));
        var redis = api.Services.GetRequiredService<IRedisClient>();
        Assert.Empty((await redis.ExecuteAsync("KEYS", [$"{environment.KeyPrefix}:warmup:*"], ct)).AsArray());
        var keys = await redis.ExecuteAsync("KEYS", [$"{environment.KeyPrefix}:jobs:*"], ct);
        foreach (var key in keys.AsArray())
        {
            Assert.Equal(0L, (await redis.ExecuteAsync("XLEN", [key.AsString()!], ct)).AsInt64());
        }
    }

    [Fact]
    public async Task TheServerRehearsesASubmissionBeforeItListensAndKeepsNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(ApiWarmupTests) + "Rehearsal");
        await using var api = await ApiProcess.StartAsync(environment.Settings());
        var lines = api.Output.Split('\n');
        var rehearsed = Array.FindIndex(lines, l => l.Contains("Rehearsed a submission through the request pipeline", StringComparison.Ordinal));
        var listening = Array.FindIndex(lines, l => l.Contains("Now listening on:", StringComparison.Ordinal));
        Assert.True(rehearsed >= 0 && rehearsed < listening, "The rehearsal was not logged before the server listened:\n" + api.Output);
        Assert.DoesNotContain("submission rehearsal did not complete", api.Output, StringComparison.Ordinal);
        // More than once: what the runtime builds on a second use (compiled service resolvers, reflection stubs) is built then.
        Assert.Contains("request pipeline 3 times", lines[rehearsed], StringComparison.Ordinal);

        // Nothing of it was kept: no job, no stream entry, no key.
        Assert.Equal(0L, Convert.ToInt64(await TestSql.ScalarAsync(environment.PostgresConnectionString, "SELECT count(*) FROM llm_workflow_jobs", ct)));
        await using var redis = new RedisClient(RedisConnectionOptions.Parse(environment.RedisConnectionString));
        Assert.Empty((await redis.ExecuteAsync("KEYS", [$"{environment.KeyPrefix}:warmup:*"], ct)).AsArray());
        Assert.Empty((await redis.ExecuteAsync("KEYS", [$"{environment.KeyPrefix}:jobs:*"], ct)).AsArray());

        // The first real submission is the first job.
        using var client = api.CreateClient();
        using var submit = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "hello_transform", input_data = new { name = "Ada" } }, ct);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, submit.StatusCode);
        Assert.Equal(1L, Convert.ToInt64(await TestSql.ScalarAsync(environment.PostgresConnectionString, "SELECT count(*) FROM llm_workflow_jobs", ct)));
    }

    [Fact]
    public async Task AnUnreachableRedisLeavesTheApiStartingColdNotFailing()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(ApiWarmupTests) + "Cold");
        var logs = new CapturingLoggerProvider();
        // Nothing listens on port 1: every Redis command fails.
        await using var factory = new ApiFactory(environment.Settings(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = "127.0.0.1:1" }));
        await using var api = factory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(logs)));
        using var client = api.CreateClient();

        using var alive = await client.GetAsync("/alive", ct);
        Assert.True(alive.IsSuccessStatusCode);
        Assert.Contains(logs.Lines, l => l.Category == Category && l.Level == LogLevel.Warning && l.Message.StartsWith("Warm-up incomplete", StringComparison.Ordinal));
    }
}
