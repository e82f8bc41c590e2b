using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// LLM answers that come back while PostgreSQL is down are held by the worker and written when it returns: no call is
/// bought twice and every call has exactly one usage row. The test owns its PostgreSQL (defaults, fsync on) and stops
/// it for real; the fake provider counts calls and releases its answers only once PostgreSQL is confirmed down.
/// </summary>
[IntegrationTest]
public sealed class PostgresOutageHoldTests(TestServers servers)
{
    private const int Jobs = 50;
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task FiftyAnswersReturnedDuringATenSecondOutageArePaidOnceAndEachHasOneUsageRow()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("llmwf-pg-outage-");
        await using var postgres = new LocalPostgres(new LocalPostgresOptions { DataDirectory = folder.FullName });
        await postgres.StartAsync(ct);
        try
        {
            await RunAsync(postgres, ct);
        }
        finally
        {
            await postgres.StopAsync(immediate: true, CancellationToken.None);
            folder.Delete(recursive: true);
        }
    }

    private async Task RunAsync(LocalPostgres postgres, CancellationToken ct)
    {
        await using var llm = await FakeOpenAiServer.StartAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        llm.AnswerGate = gate.Task;

        var environment = await TestEnvironment.CreateAsync(servers, nameof(PostgresOutageHoldTests));
        var connectionString = postgres.GetConnectionString("postgres");
        // The lease is the one record of who runs a job, and the hold is promised for outages shorter than what is left
        // of it (at least two thirds of LeaseDuration): 60 s leaves 40 s, room for the 10-second outage plus PostgreSQL's
        // crash recovery on a loaded machine.
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = connectionString,
            ["Worker:LeaseDuration"] = "00:01:00",
            ["Worker:MaxConcurrentJobs"] = Jobs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var statusUrls = new List<string>();
        for (var i = 0; i < Jobs; i++)
        {
            statusUrls.Add(await SubmitAsync(client, i, ct));
        }

        // All 50 calls are in flight (the fake holds their answers), then PostgreSQL goes away.
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(llm.CallCount == Jobs), TimeSpan.FromSeconds(60));
        await postgres.StopAsync(immediate: true, ct);
        var down = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<NpgsqlException>(async () =>
        {
            await using var probe = new NpgsqlConnection(connectionString + ";Pooling=false");
            await probe.OpenAsync(ct);
        });
        gate.SetResult();

        // Every answer reaches the worker and is held (its checkpoint cannot be written) before PostgreSQL returns.
        var held = worker.Services.GetRequiredService<HeldWrites>();
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(held.Count == Jobs), TimeSpan.FromSeconds(60));
        var heldAfter = down.Elapsed;
        if (down.Elapsed < Outage)
        {
            await Task.Delay(Outage - down.Elapsed, ct);
        }

        await postgres.StartAsync(ct);
        var back = Stopwatch.StartNew();
        var outage = down.Elapsed - back.Elapsed;

        // The API's pooled connections died with the server: it answers 503 until it has reconnected.
        await WorkerCrashTests.WaitUntilAsync(async () => (await client.GetAsync(statusUrls[0], ct)).IsSuccessStatusCode, TimeSpan.FromSeconds(60));
        var finishedAfter = TimeSpan.Zero;
        foreach (var url in statusUrls)
        {
            var status = await JobPolling.WaitForTerminalAsync(client, url, TimeSpan.FromSeconds(120), ct);
            Assert.True((string?)status["status"] == "completed", status.ToJsonString());
            finishedAfter = back.Elapsed;
        }

        Assert.Equal(Jobs, llm.CallCount);
        var usage = await UsageRowsPerJobAsync(connectionString, ct);
        Assert.Equal(Jobs, usage.Count);
        Assert.All(usage.Values, rows => Assert.Equal(1, rows));
        Assert.Equal(0, held.Count);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"calls made {llm.CallCount}, usage rows {usage.Values.Sum()}, all {Jobs} held after {heldAfter.TotalSeconds:F1} s, " +
            $"PostgreSQL down {outage.TotalSeconds:F1} s, all jobs completed {finishedAfter.TotalSeconds:F1} s after it returned");
    }

    private static async Task<Dictionary<Guid, long>> UsageRowsPerJobAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT job_id, count(*) FROM llm_provider_usage GROUP BY job_id", connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new Dictionary<Guid, long>();
        while (await reader.ReadAsync(ct))
        {
            rows[reader.GetGuid(0)] = reader.GetInt64(1);
        }

        return rows;
    }

    private static async Task<string> SubmitAsync(HttpClient client, int i, CancellationToken ct)
    {
        var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "one_llm_step", input_data = new { question = $"outage {i}" } }, ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!;
    }
}
