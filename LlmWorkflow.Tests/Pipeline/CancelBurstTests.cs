using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// A cancel always lands: 60 running jobs (each waiting on a slow LLM answer) across two workers, cancelled in one
/// burst. Every cancel is answered within the API's normal latency (it waits on no worker): no slower than a burst of 60
/// status reads made just before, give or take the machine's noise, every job ends cancelled, and no step of a job
/// starts after its cancel was accepted (its second, paid, step never runs).
/// </summary>
[IntegrationTest]
public sealed class CancelBurstTests(TestServers servers)
{
    private const int Jobs = 60;

    /// <summary>The API, both workers and this test share one process and, in CI, two loaded cores: a generous ceiling.</summary>
    private static readonly TimeSpan AnswerCeiling = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task SixtyRunningJobsCancelledInOneBurstAllEndCancelledWithNoStepAfterTheCancel()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        llm.Latency = TimeSpan.FromSeconds(60); // every first call is still in flight when the cancels come
        var environment = await TestEnvironment.CreateAsync(servers, nameof(CancelBurstTests));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var first = await WorkerHost.StartAsync(new Dictionary<string, string?>(settings) { ["Worker:Id"] = "burst-a", ["Worker:MaxConcurrentJobs"] = "30" }, ct);
        await using var second = await WorkerHost.StartAsync(new Dictionary<string, string?>(settings) { ["Worker:Id"] = "burst-b", ["Worker:MaxConcurrentJobs"] = "30" }, ct);

        var jobs = new List<Guid>();
        for (var i = 0; i < Jobs; i++)
        {
            var accepted = await (await client.PostAsJsonAsync("/api/v1/workflow",
                new { workflow_name = "two_llm_steps", input_data = new { topic = $"burst {i}" } }, ct)).Content.ReadFromJsonAsync<JsonObject>(ct);
            jobs.Add(Guid.Parse((string)accepted!["job_id"]!));
        }

        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(PipelineTestWorkflows.CallsContaining(llm, "FIRST") == Jobs), TimeSpan.FromSeconds(60));
        foreach (var worker in new[] { "burst-a", "burst-b" })
        {
            var owned = await TestSql.QueryIdsAsync(environment.PostgresConnectionString,
                "SELECT id FROM llm_workflow_jobs WHERE status = 'processing' AND lease_owner = @worker", ct, ("worker", worker));
            Assert.Equal(Jobs / 2, owned.Count); // 30 slots each: the burst reaches both workers
        }

        // The API's normal latency in this sitting: the same burst of requests that read instead of cancel.
        var reads = await Task.WhenAll(jobs.Select(async id =>
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await client.GetAsync($"/api/v1/status/{id}", ct);
            response.EnsureSuccessStatusCode();
            return Stopwatch.GetElapsedTime(started);
        }));
        var slowestRead = reads.Max();

        var answers = await Task.WhenAll(jobs.Select(async id =>
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await client.DeleteAsync($"/api/v1/workflow/{id}", ct);
            return (Id: id, response.StatusCode, Took: Stopwatch.GetElapsedTime(started), AcceptedAt: DateTimeOffset.UtcNow);
        }));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a.StatusCode));
        var slowest = answers.Max(a => a.Took);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"cancel answers: slowest {slowest.TotalMilliseconds:F0} ms, median {answers.Select(a => a.Took).Order().ElementAt(Jobs / 2).TotalMilliseconds:F0} ms; " +
            $"status reads: slowest {slowestRead.TotalMilliseconds:F0} ms, median {reads.Order().ElementAt(Jobs / 2).TotalMilliseconds:F0} ms");
        Assert.True(slowest < AnswerCeiling, $"the slowest of {Jobs} cancels took {slowest.TotalMilliseconds:F0} ms");
        Assert.True(slowest < (slowestRead * 3) + TimeSpan.FromSeconds(1),
            $"the slowest cancel took {slowest.TotalMilliseconds:F0} ms, the slowest status read {slowestRead.TotalMilliseconds:F0} ms");

        foreach (var id in jobs)
        {
            var status = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{id}", TimeSpan.FromSeconds(60), ct);
            Assert.Equal("cancelled", (string?)status["status"]);
        }

        Assert.Equal(0, PipelineTestWorkflows.CallsContaining(llm, "SECOND"));
        var lastStepStarts = await LastStepStartsAsync(environment.PostgresConnectionString, jobs, ct);
        foreach (var answer in answers)
        {
            if (lastStepStarts.TryGetValue(answer.Id, out var lastStart))
            {
                Assert.True(lastStart <= answer.AcceptedAt, $"job {answer.Id}: a step started at {lastStart:O}, after its cancel was accepted at {answer.AcceptedAt:O}");
            }
        }
    }

    private static async Task<Dictionary<Guid, DateTimeOffset>> LastStepStartsAsync(string connectionString, IReadOnlyList<Guid> jobs, CancellationToken ct)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand("SELECT job_id, max(started_at) FROM llm_job_steps WHERE job_id = ANY($1) GROUP BY job_id");
        command.Parameters.Add(new NpgsqlParameter { Value = jobs.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var starts = new Dictionary<Guid, DateTimeOffset>();
        while (await reader.ReadAsync(ct))
        {
            starts[reader.GetGuid(0)] = reader.GetFieldValue<DateTimeOffset>(1);
        }

        return starts;
    }
}
