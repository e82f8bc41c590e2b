using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;
using Npgsql;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// <c>Worker:TenantSlotShares</c> on real servers: one worker of 8 slots, a fake provider answering every call after
/// <see cref="Latency"/> (the job holds its slot meanwhile), the test caller's tenant <c>tests</c> of weight 3 and
/// <c>small-app</c> of weight 1. Each test starts its own worker (shares on or off) and samples the running jobs per
/// tenant from PostgreSQL.
/// </summary>
[IntegrationTest]
public sealed class TenantSlotSharesPipelineTests(TestServers servers) : IAsyncLifetime
{
    private const string SmallTenantKey = "small-tenant-key";
    private const int Slots = 8;
    private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    private FakeOpenAiServer _llm = null!;
    private ApiFactory _api = null!;
    private HttpClient _big = null!;
    private HttpClient _small = null!;
    private Dictionary<string, string?> _settings = null!;
    private string _postgres = null!;

    public async ValueTask InitializeAsync()
    {
        _llm = await FakeOpenAiServer.StartAsync();
        _llm.Latency = Latency;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(TenantSlotSharesPipelineTests));
        _postgres = environment.PostgresConnectionString;
        _settings = environment.Settings(PipelineTestWorkflows.Settings(_llm, new Dictionary<string, string?>
        {
            ["Tenants:tests:Weight"] = "3",
            ["Worker:MaxConcurrentJobs"] = Slots.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Auth:ApiKeys:2:Name"] = "small",
            ["Auth:ApiKeys:2:Key"] = SmallTenantKey,
            ["Auth:ApiKeys:2:Tenant"] = "small-app",
        }));
        _api = new ApiFactory(_settings);
        _big = _api.CreateAuthenticatedClient();
        _small = _api.CreateClient();
        _small.DefaultRequestHeaders.Add("X-API-Key", SmallTenantKey);
    }

    public async ValueTask DisposeAsync()
    {
        _small.Dispose();
        _big.Dispose();
        await _api.DisposeAsync();
        await _llm.DisposeAsync();
    }

    [Fact]
    public async Task TwoTenantsWithBacklogsRunSixAndTwoOfEightSlotsByTheirWeights()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var worker = await StartWorkerAsync(shares: true, ct);
        var big = await SubmitAsync(_big, "big", 60, ct);
        // Alone, the tenant of weight 3 takes every slot.
        await WaitForAsync(s => s.BigRunning == Slots, ct);

        var submitted = DateTimeOffset.UtcNow;
        var small = await SubmitAsync(_small, "small", 12, ct);
        var samples = await SampleWhileAsync(s => s.SmallWaiting > 0, ct);
        var tookShare = samples.FirstOrDefault(s => s.SmallRunning >= 2)?.At - submitted;
        await WaitForAllAsync(_big, big, ct);
        await WaitForAllAsync(_small, small, ct);

        // From the moment the small tenant first runs its share, while both have jobs waiting for a worker.
        var settled = samples.SkipWhile(s => s.SmallRunning < 2).Where(s => s.BigWaiting > 0 && s.SmallWaiting > 0).ToList();
        var full = settled.Where(s => s.BigRunning + s.SmallRunning == Slots).ToList();
        var split = full.GroupBy(s => (s.BigRunning, s.SmallRunning)).OrderByDescending(g => g.Count())
            .Select(g => $"{g.Key.BigRunning}:{g.Key.SmallRunning} ×{g.Count()}");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{samples.Count} samples, mean running {settled.Average(s => s.BigRunning + s.SmallRunning):F2} of {Slots}; {settled.Count} with both waiting after the small tenant reached its share, {full.Count} with every slot busy: {string.Join(", ", split)}; " +
            $"the others: {string.Join(", ", settled.Except(full).Select(s => $"{s.BigRunning}:{s.SmallRunning}"))}; the small tenant ran its 2 " +
            $"{tookShare?.TotalMilliseconds:F0} ms after its first submission (12 submissions, one at a time); most jobs parked at once: {samples.Max(s => s.Parked)}");
        Assert.True(full.Count >= 10, $"only {full.Count} samples with both tenants waiting and every slot busy");
        Assert.All(full, s => Assert.InRange(s.BigRunning, 5, 7));
        Assert.All(full, s => Assert.InRange(s.SmallRunning, 1, 3));
        Assert.True(full.Count(s => s.BigRunning == 6) * 2 > full.Count, $"6:2 in only {full.Count(s => s.BigRunning == 6)} of {full.Count} samples");
    }

    [Fact]
    public async Task ATenantAloneUsesEverySlotWhateverItsWeight()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var worker = await StartWorkerAsync(shares: true, ct);
        var small = await SubmitAsync(_small, "alone", 16, ct);

        await WaitForAsync(s => s.SmallRunning == Slots, ct);
        await WaitForAllAsync(_small, small, ct);
    }

    [Fact]
    public async Task WithoutTheSettingTheBacklogAheadTakesEverySlotAndNothingIsParked()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var worker = await StartWorkerAsync(shares: false, ct);
        var big = await SubmitAsync(_big, "fifo-big", 24, ct);
        await WaitForAsync(s => s.BigRunning == Slots, ct);

        var small = await SubmitAsync(_small, "fifo-small", 4, ct);
        var samples = await SampleWhileAsync(s => s.BigWaiting > 0, ct);
        await WaitForAllAsync(_big, big, ct);
        await WaitForAllAsync(_small, small, ct);

        // The one stream is FIFO: the small tenant's jobs wait behind the whole backlog, and no job is parked.
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{samples.Count} samples while the backlog waited: mean running {samples.Average(s => s.BigRunning + s.SmallRunning):F2} of {Slots}, " +
            $"every slot busy in {samples.Count(s => s.BigRunning + s.SmallRunning == Slots)}");
        Assert.NotEmpty(samples);
        Assert.All(samples, s => Assert.Equal((0, 0), (s.SmallRunning, s.Parked)));
    }

    [Fact]
    public async Task AnInvalidSettingRefusesTheWorkersStartNamingIt()
    {
        var settings = new Dictionary<string, string?>(_settings) { ["Worker:TenantSlotShares"] = "sometimes" };

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => WorkerHost.StartAsync(settings, TestContext.Current.CancellationToken));

        Assert.Equal("Worker:TenantSlotShares must be true or false; got 'sometimes'.", refused.Message);
    }

    private Task<WorkerHost> StartWorkerAsync(bool shares, CancellationToken ct) =>
        WorkerHost.StartAsync(new Dictionary<string, string?>(_settings) { ["Worker:TenantSlotShares"] = shares ? "true" : "false" }, ct);

    private static async Task<List<string>> SubmitAsync(HttpClient client, string marker, int count, CancellationToken ct)
    {
        var jobs = new List<string>();
        for (var i = 0; i < count; i++)
        {
            using var response = await client.PostAsJsonAsync("/api/v1/workflow",
                new { workflow_name = "one_llm_step", input_data = new { question = $"[{marker}-{i:D2}]" } }, ct);
            response.EnsureSuccessStatusCode();
            jobs.Add((string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!);
        }

        return jobs;
    }

    private static async Task WaitForAllAsync(HttpClient client, IEnumerable<string> jobs, CancellationToken ct)
    {
        foreach (var job in jobs)
        {
            var ended = await JobPolling.WaitForTerminalAsync(client, job, JobTimeout, ct);
            Assert.Equal("completed", (string?)ended["status"]);
        }
    }

    private async Task WaitForAsync(Func<Sample, bool> condition, CancellationToken ct) =>
        await WorkerCrashTests.WaitUntilAsync(async () => condition(await SampleAsync(ct)), JobTimeout);

    /// <summary>Samples every 50 ms, from the first sample, while <paramref name="condition"/> holds (within the job timeout).</summary>
    private async Task<List<Sample>> SampleWhileAsync(Func<Sample, bool> condition, CancellationToken ct)
    {
        var samples = new List<Sample>();
        var deadline = DateTime.UtcNow + JobTimeout;
        for (var sample = await SampleAsync(ct); condition(sample); sample = await SampleAsync(ct))
        {
            samples.Add(sample);
            Assert.True(DateTime.UtcNow < deadline, "the backlogs did not drain within the job timeout");
            await Task.Delay(50, ct);
        }

        return samples;
    }

    /// <summary>Each tenant's running jobs and its jobs waiting for a worker (queued, or parked for a slot), in one read.</summary>
    private async Task<Sample> SampleAsync(CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(_postgres);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("""
            SELECT count(*) FILTER (WHERE tenant_id = 'tests' AND status = 'processing'),
                   count(*) FILTER (WHERE tenant_id = 'tests' AND (status = 'queued' OR status = 'waiting' AND wait_data->>'kind' = 'slot')),
                   count(*) FILTER (WHERE tenant_id = 'small-app' AND status = 'processing'),
                   count(*) FILTER (WHERE tenant_id = 'small-app' AND (status = 'queued' OR status = 'waiting' AND wait_data->>'kind' = 'slot')),
                   count(*) FILTER (WHERE status = 'waiting' AND wait_data->>'kind' = 'slot')
              FROM llm_workflow_jobs WHERE status IN ('processing', 'queued', 'waiting')
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new Sample((int)reader.GetInt64(0), (int)reader.GetInt64(1), (int)reader.GetInt64(2), (int)reader.GetInt64(3), (int)reader.GetInt64(4), DateTimeOffset.UtcNow);
    }

    /// <summary>One read of the jobs table; <c>Parked</c> is every tenant's slot waits.</summary>
    private sealed record Sample(int BigRunning, int BigWaiting, int SmallRunning, int SmallWaiting, int Parked, DateTimeOffset At);
}
