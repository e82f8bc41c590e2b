using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// A worker that read an entry and took the job's lease, then died without a trace: the entry goes idle and is
/// reclaimed by a survivor while the lease still holds, so the survivor cannot claim the job yet and acks the entry.
/// The job must not be orphaned in `processing`: once the lease lapses, the reconciler re-dispatches it
/// (DispatchLapsed) and the survivor runs it.
/// </summary>
[IntegrationTest]
public sealed class ReclaimRaceTests(TestServers servers)
{
    [Fact]
    public async Task AnEntryReclaimedWhileTheLeaseStillHoldsIsTakenOverOnceTheLeaseLapses()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(ReclaimRaceTests));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
        {
            ["Worker:LeaseDuration"] = "00:00:01",
            ["Worker:ReclaimInterval"] = "00:00:00.200",
        }));

        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        var accepted = await (await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "one_llm_step", input_data = new { question = "races" } }, ct)).Content.ReadFromJsonAsync<JsonObject>(ct);
        var jobId = Guid.Parse((string)accepted!["job_id"]!);

        // A "ghost" worker reads the entry and holds the job's lease for 5 more seconds, then dies without a trace.
        var queue = api.Services.GetRequiredService<JobQueue>();
        await queue.EnsureConsumerGroupsAsync(ct);
        Assert.Contains(await queue.ReadAsync("ghost", 10, ct), job => job.Dispatch.JobId == jobId);
        await using (var connection = new NpgsqlConnection(environment.PostgresConnectionString))
        {
            await connection.OpenAsync(ct);
            await using var lease = new NpgsqlCommand("""
                UPDATE llm_workflow_jobs
                   SET status = 'processing', lease_owner = 'ghost', lease_expires_at = now() + interval '5 seconds',
                       started_at = now(), attempt = 1
                 WHERE id = @id
                """, connection);
            lease.Parameters.AddWithValue("id", jobId);
            Assert.Equal(1, await lease.ExecuteNonQueryAsync(ct));
        }

        // The survivor reclaims the idle entry after 1 s, while the ghost's lease still holds for about 4 s more.
        await using var survivor = await WorkerHost.StartAsync(settings, ct);
        var status = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{jobId}", TimeSpan.FromSeconds(90), ct);

        Assert.Equal("completed", (string?)status["status"]);
        Assert.Equal(2, (int)status["attempt"]!);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "races"));
    }
}
