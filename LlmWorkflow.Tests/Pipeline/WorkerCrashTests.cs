using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;
using StackExchange.Redis;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// kill -9 of a worker between two LLM steps: once the lease lapses the reconciler re-dispatches the job, another
/// worker reclaims it, resumes from the checkpoint of the first step, and the first step's (paid) LLM call is not
/// made again.
/// </summary>
[SystemTest]
public sealed class WorkerCrashTests(TestServers servers)
{
    [Fact]
    public async Task KilledWorkerJobCompletesElsewhereWithoutRepeatingTheFinishedLlmCall()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        llm.Latency = TimeSpan.FromSeconds(2);
        var environment = await TestEnvironment.CreateAsync(servers, nameof(WorkerCrashTests));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm));

        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var doomed = await WorkerProcess.StartAsync(settings);

        var accepted = await (await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "two_llm_steps", input_data = new { topic = "crash safety" } }, ct)).Content.ReadFromJsonAsync<JsonObject>(ct);
        var jobId = Guid.Parse((string)accepted!["job_id"]!);

        // Wait until the first step is checkpointed and the second call is in flight, then crash the worker.
        await WaitUntilAsync(async () => await CheckpointExistsAsync(environment, jobId, "first"), TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => Task.FromResult(PipelineTestWorkflows.CallsContaining(llm, "SECOND") == 1), TimeSpan.FromSeconds(30));
        // Who runs the job is recorded by its Postgres lease alone: the entry was acked when the claim decided it.
        var queue = api.Services.GetRequiredService<JobQueue>();
        var redis = api.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        foreach (var key in queue.StreamKeys)
        {
            Assert.Equal(0, (await redis.StreamPendingAsync(key, queue.ConsumerGroup)).PendingMessageCount);
        }

        await doomed.KillAsync();

        llm.Latency = TimeSpan.Zero;
        await using var survivor = await WorkerHost.StartAsync(settings, ct);
        var status = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{jobId}", TimeSpan.FromSeconds(60), ct);

        Assert.Equal("completed", (string?)status["status"]);
        Assert.Equal(2, (int)status["attempt"]!);
        Assert.Equal(llm.Options.Text, (string?)status["result"]!["output"]!["first"]);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "FIRST"));
        Assert.Equal(2, PipelineTestWorkflows.CallsContaining(llm, "SECOND"));
    }

    private static async Task<bool> CheckpointExistsAsync(TestEnvironment environment, Guid jobId, string stepKey)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM llm_job_steps WHERE job_id = @id AND step_key = @key AND is_checkpoint", connection);
        command.Parameters.AddWithValue("id", jobId);
        command.Parameters.AddWithValue("key", stepKey);
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Condition not met within {timeout}.");
            }

            await Task.Delay(100);
        }
    }
}
