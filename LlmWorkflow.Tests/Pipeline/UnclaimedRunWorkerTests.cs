using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Through the API and a worker on the real servers, with a trigger recording every status change of a job row: a job
/// whose workflow only computes goes from queued straight to completed (no claim), its entry is acknowledged once it
/// finished, and a job that calls an LLM is still claimed. An entry of a run without a claim whose worker died is
/// reclaimed after the lease and claimed this time.
/// </summary>
public sealed class UnclaimedRunWorkerTests(TestServers servers)
{
    [Fact]
    public async Task AJobThatOnlyComputesGoesFromQueuedToCompletedAndAnLlmJobIsClaimed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AJobThatOnlyComputesGoesFromQueuedToCompletedAndAnLlmJobIsClaimed));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);
        await RecordTransitionsAsync(environment, ct);

        var computes = await ApiSubmissions.SubmitAsync(client, "two_transforms", new { name = "Ada" }, ct);
        var calls = await ApiSubmissions.SubmitAsync(client, "one_llm_step", new { question = "unclaimed" }, ct);
        var computed = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{computes}", TimeSpan.FromSeconds(60), ct);
        var called = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{calls}", TimeSpan.FromSeconds(60), ct);

        Assert.Equal("completed", (string?)computed["status"]);
        Assert.Equal("Hello, Ada!!!", (string?)computed["result"]!["output"]!["greeting"]);
        Assert.Equal(1, (int)computed["attempt"]!);
        Assert.Equal(["queued", "queued>completed"], await TransitionsAsync(environment, computes, ct));
        Assert.Equal(2, await CountAsync(environment, "SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND job_attempt = 1", computes, ct));
        Assert.Equal(1, await CountAsync(environment, "SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND started_at <= completed_at", computes, ct));

        Assert.Equal("completed", (string?)called["status"]);
        Assert.Equal(["queued", "queued>processing", "processing>completed"], await TransitionsAsync(environment, calls, ct));

        // Both entries were acknowledged: the unclaimed one after its finish.
        var queue = api.Services.GetRequiredService<JobQueue>();
        var redis = api.Services.GetRequiredService<IRedisClient>();
        await Eventually.TrueAsync(async () =>
        {
            var pending = 0L;
            foreach (var key in queue.StreamKeys)
            {
                pending += (await redis.StreamPendingAsync(key, queue.ConsumerGroup, ct)).Count;
            }

            return pending == 0;
        }, TimeSpan.FromSeconds(20), "the dispatch entries to be acknowledged");
    }

    [Fact]
    public async Task AnEntryWhoseRunWithoutAClaimDiedIsReclaimedAndClaimed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AnEntryWhoseRunWithoutAClaimDiedIsReclaimedAndClaimed));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
        {
            ["Worker:LeaseDuration"] = "00:00:01",
            ["Worker:ReclaimInterval"] = "00:00:00.200",
            // Far away, so only the reclaim of the idle entry can bring the job back.
            ["Worker:RedispatchAfter"] = "00:10:00",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        var queue = api.Services.GetRequiredService<JobQueue>();
        await queue.EnsureConsumerGroupsAsync(ct);
        await RecordTransitionsAsync(environment, ct);
        var jobId = await ApiSubmissions.SubmitAsync(client, "two_transforms", new { name = "Grace" }, ct);

        // A "ghost" worker reads the entry to run it without a claim, then dies: the job stays queued, the entry pending.
        Assert.Contains(await queue.ReadAsync("ghost", 10, ct), job => job.Dispatch.JobId == jobId);
        await using var survivor = await WorkerHost.StartAsync(settings, ct);
        var status = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{jobId}", TimeSpan.FromSeconds(60), ct);

        Assert.Equal("completed", (string?)status["status"]);
        Assert.Equal(1, (int)status["attempt"]!);
        // Reclaimed entries are claimed: a job that kills every worker running it counts attempts toward dead-lettering.
        Assert.Equal(["queued", "queued>processing", "processing>completed"], await TransitionsAsync(environment, jobId, ct));
    }

    /// <summary>A trigger that logs each job row's insert and every change of its status, in commit order per job.</summary>
    private static async Task RecordTransitionsAsync(TestEnvironment environment, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("""
            CREATE TABLE test_job_transitions (seq bigserial PRIMARY KEY, job_id uuid NOT NULL, change text NOT NULL);
            CREATE FUNCTION test_record_transition() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO test_job_transitions (job_id, change) VALUES (NEW.id, NEW.status);
                ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
                    INSERT INTO test_job_transitions (job_id, change) VALUES (NEW.id, OLD.status || '>' || NEW.status);
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_record_transition AFTER INSERT OR UPDATE ON llm_workflow_jobs
                FOR EACH ROW EXECUTE FUNCTION test_record_transition();
            """, connection);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<string[]> TransitionsAsync(TestEnvironment environment, Guid jobId, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT change FROM test_job_transitions WHERE job_id = $1 ORDER BY seq", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        var changes = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            changes.Add(reader.GetString(0));
        }

        return [.. changes];
    }

    private static async Task<long> CountAsync(TestEnvironment environment, string sql, Guid jobId, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }
}
