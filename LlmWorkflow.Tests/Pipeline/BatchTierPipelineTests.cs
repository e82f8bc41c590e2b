using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Batch jobs end to end (API, PostgreSQL, Redis, a worker, the fake providers' Batch APIs): the call goes out as one
/// batch, the job waits parked on it (waiting_for.kind "batch") and completes when the fake ends the batch, priced at
/// the batch rate; a worker killed (SIGKILL) meanwhile loses nothing and creates no second batch; an expired batch falls back to
/// standard before a far deadline; a provider without a Batch API runs the job at standard and says so.
/// </summary>
[IntegrationTest]
public sealed class BatchTierPipelineTests(TestServers servers)
{
    // The fakes report 10,000 input and 1,000 output tokens: gpt-4o-mini's list price is $0.0021, the batch's $0.00105.
    private const decimal ListCost = 0.0021m;
    private const decimal BatchCost = 0.00105m;
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AnOpenAiBatchJobWaitsParkedOnOneBatchAndCompletesAtHalfTheListPrice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await Harness.StartAsync(servers, nameof(AnOpenAiBatchJobWaitsParkedOnOneBatchAndCompletesAtHalfTheListPrice), anthropic: false, ct);
        var statusUrl = await pipeline.SubmitAsync(new { service_tier = "batch" }, ct);

        var waiting = await pipeline.WaitForBatchAsync(statusUrl, ct);
        Assert.Equal("openai", (string?)waiting["provider"]);
        var batch = Assert.Single(pipeline.OpenAi.Batches.All);
        Assert.Equal(batch.Id, (string?)waiting["batch_id"]);
        // One JSONL line for the chat completions endpoint; the key that finds the batch again is its custom_id and metadata.
        var (customId, body) = Assert.Single(batch.Requests);
        Assert.Equal(customId, (string?)batch.Metadata!["llmworkflow_key"]);
        Assert.Equal("gpt-4o-mini", (string?)body["model"]);
        pipeline.OpenAi.Batches.Finish();

        var done = await pipeline.WaitForCompletedAsync(statusUrl, ct);

        Assert.Equal(1, pipeline.OpenAi.Batches.Created);
        Assert.Equal(0, pipeline.ChatCalls());
        Assert.Equal("batch", (string?)done["service_tier"]);
        var costData = done["result"]!["cost_data"]!;
        Assert.Equal((BatchCost, ListCost, BatchCost, "batch"),
            ((decimal)costData["cost_usd"]!, (decimal)costData["list_cost_usd"]!, (decimal)costData["discount_usd"]!, (string?)costData["requested_service_tier"]));
        AssertUsage(done, "batch", ListCost, BatchCost);
    }

    [Fact]
    public async Task AnAnthropicBatchJobCompletesWhenItsMessageBatchEnds()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await Harness.StartAsync(servers, nameof(AnAnthropicBatchJobCompletesWhenItsMessageBatchEnds), anthropic: true, ct);
        var statusUrl = await pipeline.SubmitAsync(new { service_tier = "batch" }, ct);

        var waiting = await pipeline.WaitForBatchAsync(statusUrl, ct);
        var batch = Assert.Single(pipeline.Anthropic!.Batches.All);
        Assert.Equal(batch.Id, (string?)waiting["batch_id"]);
        Assert.Equal("gpt-4o-mini", (string?)Assert.Single(batch.Requests).Body["model"]);
        pipeline.Anthropic.Batches.Finish();

        var done = await pipeline.WaitForCompletedAsync(statusUrl, ct);

        Assert.Equal(1, pipeline.Anthropic.Batches.Created);
        Assert.DoesNotContain(pipeline.Anthropic.Requests, r => r.Path == "/v1/messages");
        Assert.Equal(BatchCost, (decimal)done["result"]!["cost_data"]!["cost_usd"]!);
        AssertUsage(done, "batch", ListCost, BatchCost);
    }

    [Fact]
    public async Task AWorkerKilledWhileTheJobWaitsOnItsBatchLosesNothingAndTheBatchIsNotCreatedTwice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await Harness.StartAsync(servers, nameof(AWorkerKilledWhileTheJobWaitsOnItsBatchLosesNothingAndTheBatchIsNotCreatedTwice), anthropic: false, ct);
        // The batch is created by a worker process that is then killed with SIGKILL (no shutdown code runs).
        await pipeline.Worker.DisposeAsync();
        var killed = await WorkerProcess.StartAsync(new Dictionary<string, string?>(pipeline.Settings) { ["Worker:Id"] = "batch-killed" });
        await using (killed)
        {
            var statusUrl = await pipeline.SubmitAsync(new { service_tier = "batch" }, ct);
            await pipeline.WaitForBatchAsync(statusUrl, ct);
            await killed.KillAsync();

            pipeline.OpenAi.Batches.Finish();
            pipeline.Worker = await WorkerHost.StartAsync(pipeline.Settings, ct);
            var done = await pipeline.WaitForCompletedAsync(statusUrl, ct);

            Assert.Equal(1, pipeline.OpenAi.Batches.Created);
            Assert.Equal(0, pipeline.ChatCalls());
            Assert.Equal(1L, await pipeline.UsageRowsAsync((string)done["job_id"]!, ct));
            AssertUsage(done, "batch", ListCost, BatchCost);
        }
    }

    [Fact]
    public async Task AnExpiredBatchWithTheDeadlineFarAheadFallsBackToAStandardCall()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await Harness.StartAsync(servers, nameof(AnExpiredBatchWithTheDeadlineFarAheadFallsBackToAStandardCall), anthropic: false, ct);
        var deadline = DateTimeOffset.UtcNow.AddHours(2);
        var statusUrl = await pipeline.SubmitAsync(new { service_tier = "batch", deadline = deadline.ToString("yyyy-MM-ddTHH:mm:ssZ") }, ct);
        await pipeline.WaitForBatchAsync(statusUrl, ct);

        pipeline.OpenAi.Batches.Expire();
        var done = await pipeline.WaitForCompletedAsync(statusUrl, ct);

        Assert.Equal((1, 1), (pipeline.OpenAi.Batches.Created, pipeline.ChatCalls()));
        Assert.Equal(ListCost, (decimal)done["result"]!["cost_data"]!["cost_usd"]!);
        AssertUsage(done, "standard", ListCost, 0m);
    }

    [Fact]
    public async Task AProviderWithoutABatchApiRunsABatchJobAtStandardAndSaysSo()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await Harness.StartAsync(servers, nameof(AProviderWithoutABatchApiRunsABatchJobAtStandardAndSaysSo), anthropic: false, ct,
            new Dictionary<string, string?> { ["Llm:Providers:openai:BatchTier"] = "false" });
        var statusUrl = await pipeline.SubmitAsync(new { service_tier = "batch" }, ct);

        var done = await pipeline.WaitForCompletedAsync(statusUrl, ct);

        Assert.Equal((0, 1), (pipeline.OpenAi.Batches.Created, pipeline.ChatCalls()));
        Assert.Null(FakeOpenAiServer.ServiceTierOf(Assert.Single(pipeline.OpenAi.Requests)));
        AssertUsage(done, "standard", ListCost, 0m);
    }

    [Fact]
    public async Task BatchCallsSideBySideInAParallelStepRunAtStandardAndSaySo()
    {
        // A job records one wait: two branches parking on their batches together could lose one batch's record.
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await Harness.StartAsync(servers, nameof(BatchCallsSideBySideInAParallelStepRunAtStandardAndSaySo), anthropic: false, ct);
        var fields = new JsonObject { ["service_tier"] = "batch" };
        var submission = TierSubmissions.OneLlmStep(fields);
        submission["workflow_name"] = "parallel_llm_steps";
        using var response = await pipeline.Client.PostAsJsonAsync("/api/v1/workflow", submission, ct);
        var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, accepted?.ToJsonString());

        var done = await pipeline.WaitForCompletedAsync((string)accepted!["status_url"]!, ct);

        Assert.Equal((0, 2), (pipeline.OpenAi.Batches.Created, pipeline.ChatCalls()));
        foreach (var stepId in new[] { "answer_one", "answer_two" })
        {
            var usage = done["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == stepId)!["output"]!["usage"]!;
            Assert.Equal(("standard", "batch"), ((string?)usage["service_tier"], (string?)usage["requested_service_tier"]));
        }
    }

    [Fact]
    public async Task BatchIsAcceptedWithOrWithoutADeadlineAndBadOnesAre400sNamingTheField()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(BatchIsAcceptedWithOrWithoutADeadlineAndBadOnesAre400sNamingTheField));
        await using var api = new ApiFactory(environment.Settings(new Dictionary<string, string?> { ["Workflows:Root"] = PipelineTestWorkflows.Root }));
        using var client = api.CreateAuthenticatedClient();
        (string Fields, string Field, string Says)[] cases =
        [
            ("""{"service_tier": "batches"}""", "service_tier", "\"standard\", \"flex\", \"batch\""),
            ("""{"service_tier": "batch", "deadline": "2020-01-01T00:00:00Z"}""", "deadline", "in the past"),
            ("""{"service_tier": "batch", "deadline": "tomorrow"}""", "deadline", "RFC 3339"),
            ("""{"service_tier": "standard", "deadline": "2099-01-01T00:00:00Z"}""", "deadline", "flex and batch tiers"),
        ];

        await TierSubmissions.AssertRefusedAsync(client, cases, ct);

        var deadline = DateTimeOffset.UtcNow.AddDays(1);
        using var accepted = await client.PostAsJsonAsync("/api/v1/workflow",
            TierSubmissions.OneLlmStep(new JsonObject { ["service_tier"] = "batch", ["deadline"] = deadline.ToString("yyyy-MM-ddTHH:mm:ssZ") }), ct);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var job = await client.GetFromJsonAsync<JsonObject>((string)(await accepted.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!, ct);
        Assert.Equal(("batch", deadline.ToUnixTimeSeconds()),
            ((string?)job!["service_tier"], DateTimeOffset.Parse((string)job["deadline"]!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds()));
    }

    private static void AssertUsage(JsonObject done, string tier, decimal list, decimal discount) =>
        TierSubmissions.AssertUsage(done, tier, "batch", list, discount);

    /// <summary>
    /// The API, a worker the test may replace, and the fake OpenAI server; with <c>anthropic</c>, the provider of the
    /// test workflow's model (<c>openai/gpt-4o-mini</c>, so its list price is the same) speaks Anthropic's protocol to
    /// the fake Anthropic server instead.
    /// </summary>
    private sealed class Harness : IAsyncDisposable
    {
        public required FakeOpenAiServer OpenAi { get; init; }

        public FakeAnthropicServer? Anthropic { get; init; }

        public required Dictionary<string, string?> Settings { get; init; }

        public required ApiFactory Api { get; init; }

        public required HttpClient Client { get; init; }

        public required WorkerHost Worker { get; set; }

        public static async Task<Harness> StartAsync(TestServers servers, string name, bool anthropic, CancellationToken ct, Dictionary<string, string?>? extra = null)
        {
            var openAi = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { PromptTokens = 10_000, CompletionTokens = 1_000 });
            var claude = anthropic ? await FakeAnthropicServer.StartAsync(new FakeAnthropicOptions { InputTokens = 10_000, OutputTokens = 1_000 }) : null;
            var overrides = new Dictionary<string, string?>(extra ?? []) { ["Llm:Batch:PollInterval"] = "00:00:00.200" };
            if (claude is not null)
            {
                overrides["Llm:Providers:openai:Kind"] = "anthropic";
                overrides["Llm:Providers:openai:BaseUrl"] = claude.BaseUrl.ToString();
            }

            var environment = await TestEnvironment.CreateAsync(servers, name);
            var settings = environment.Settings(PipelineTestWorkflows.Settings(openAi, overrides));
            var api = new ApiFactory(settings);
            return new Harness
            {
                OpenAi = openAi,
                Anthropic = claude,
                Settings = settings,
                Api = api,
                Client = api.CreateAuthenticatedClient(),
                Worker = await WorkerHost.StartAsync(settings, ct),
            };
        }

        public async Task<string> SubmitAsync(object tier, CancellationToken ct)
        {
            using var response = await Client.PostAsJsonAsync("/api/v1/workflow", TierSubmissions.OneLlmStep(System.Text.Json.JsonSerializer.SerializeToNode(tier)!.AsObject()), ct);
            var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, accepted?.ToJsonString());
            return (string)accepted!["status_url"]!;
        }

        /// <summary>Polls until the job waits parked on a created batch; returns its waiting_for.</summary>
        public async Task<JsonObject> WaitForBatchAsync(string statusUrl, CancellationToken ct)
        {
            var job = await JobPolling.WaitUntilAsync(Client, statusUrl,
                job => (string?)job["status"] == "waiting" && job["waiting_for"] is JsonObject { } wait && (string?)wait["kind"] == "batch" && wait["batch_id"] is not null,
                "waiting on a created batch", JobTimeout, ct);
            return job["waiting_for"]!.AsObject();
        }

        public async Task<JsonObject> WaitForCompletedAsync(string statusUrl, CancellationToken ct)
        {
            var done = await JobPolling.WaitForTerminalAsync(Client, statusUrl, JobTimeout, ct);
            Assert.True((string?)done["status"] == "completed", done.ToJsonString());
            return done;
        }

        /// <summary>Direct (non-batch) chat completion calls the fake OpenAI server answered.</summary>
        public int ChatCalls() => OpenAi.Requests.Count(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal));

        public async Task<long> UsageRowsAsync(string jobId, CancellationToken ct)
        {
            await using var dataSource = NpgsqlDataSource.Create(Settings["ConnectionStrings:postgres"]!);
            await using var command = dataSource.CreateCommand("SELECT count(*) FROM llm_provider_usage WHERE job_id = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = Guid.Parse(jobId) });
            return (long)(await command.ExecuteScalarAsync(ct))!;
        }

        public async ValueTask DisposeAsync()
        {
            await Worker.DisposeAsync();
            Client.Dispose();
            await Api.DisposeAsync();
            await OpenAi.DisposeAsync();
            if (Anthropic is not null)
            {
                await Anthropic.DisposeAsync();
            }
        }
    }
}
