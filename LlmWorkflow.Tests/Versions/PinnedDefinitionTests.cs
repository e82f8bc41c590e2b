using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Versions;

/// <summary>
/// A job runs the workflow version it was submitted with: after the definition and its prompt file change (and the
/// API and worker restart on the new files), a rerun from a step and a wake-up from a sleep still run the pinned
/// version, while a new job runs the new one. The versions endpoint counts the caller's jobs per version only.
/// </summary>
[IntegrationTest]
public sealed class PinnedDefinitionTests(TestServers servers)
{
    private const string OtherTenantKey = "other-tenant-key";

    [Fact]
    public async Task ARerunAfterTheFilesChangedRunsThePinnedVersionAndANewJobTheNewOne()
    {
        var ct = TestContext.Current.CancellationToken;
        using var files = PinnedWorkflowFiles.Create();
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = (await TestEnvironment.CreateAsync(servers, nameof(PinnedDefinitionTests) + "_rerun")).Settings(files.Settings(llm, OtherTenant));

        var (api, worker) = await StartAsync(settings, ct);
        var client = api.CreateAuthenticatedClient();
        var first = await SubmitAsync(client, "pinned_steps", new { topic = "pins" }, ct);
        var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{first}", TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        var pinned = (string)done["definition_hash"]!;
        Assert.Matches("^[0-9a-f]{64}$", pinned);
        client.Dispose();
        await StopAsync(api, worker);

        files.Write("v2");
        (api, worker) = await StartAsync(settings, ct);
        client = api.CreateAuthenticatedClient();
        try
        {
            using var rerun = await client.PostAsJsonAsync($"/api/v1/jobs/{first}/retry", new { from_step = "one" }, ct);
            Assert.Equal(HttpStatusCode.Accepted, rerun.StatusCode);
            var rerunDone = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{first}", TimeSpan.FromSeconds(30), ct);
            Assert.Equal("completed", (string?)rerunDone["status"]);
            Assert.Equal(pinned, (string?)rerunDone["definition_hash"]);
            // Both runs of the job used the v1 prompt file and the v1 inline prompts.
            Assert.Equal(2, PipelineTestWorkflows.CallsContaining(llm, "ONE-v1"));
            Assert.Equal(2, PipelineTestWorkflows.CallsContaining(llm, "FOUR-v1"));
            Assert.Equal(0, PipelineTestWorkflows.CallsContaining(llm, "-v2"));

            var second = await SubmitAsync(client, "pinned_steps", new { topic = "fresh" }, ct);
            var secondDone = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{second}", TimeSpan.FromSeconds(30), ct);
            var current = (string)secondDone["definition_hash"]!;
            Assert.NotEqual(pinned, current);
            Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "ONE-v2"));
            Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "FOUR-v2"));

            var versions = await client.GetFromJsonAsync<JsonObject>("/api/v1/workflows/pinned_steps/versions", ct);
            Assert.Equal(current, (string?)versions!["current_hash"]);
            var listed = versions["versions"]!.AsArray().ToDictionary(v => (string)v!["hash"]!, v => v!);
            Assert.Equal(2, listed.Count);
            Assert.Equal((1L, false), ((long)listed[pinned]["job_count"]!, (bool)listed[pinned]["current"]!));
            Assert.Equal((1L, true), ((long)listed[current]["job_count"]!, (bool)listed[current]["current"]!));
            Assert.NotNull(listed[pinned]["first_seen_at"]);

            // The pinned version against the current one: the inline prompts and the prompt file changed.
            var detail = await client.GetFromJsonAsync<JsonObject>($"/api/v1/workflows/pinned_steps/versions/{pinned}", ct);
            Assert.False((bool)detail!["current"]!);
            Assert.Contains("ONE-v1", (string?)detail["prompts"]!["pinned/one.md"]);
            var differences = detail["differences_to_current"]!.AsArray().Select(d => $"{d!["kind"]}:{d["id"]}:{d["change"]}:{string.Join(",", d["fields"]!.AsArray())}").ToList();
            Assert.Contains("step:two:changed:config.prompt", differences);
            Assert.Contains("prompt:pinned/one.md:changed:", differences);
            Assert.DoesNotContain(differences, d => d.StartsWith("step:one:", StringComparison.Ordinal)); // its prompt_file path is the same

            // Another tenant sees no job of this tenant's on any version: only the current one, unused.
            using var other = api.CreateClient();
            other.DefaultRequestHeaders.Add("X-API-Key", OtherTenantKey);
            var theirs = await other.GetFromJsonAsync<JsonObject>("/api/v1/workflows/pinned_steps/versions", ct);
            var only = Assert.Single(theirs!["versions"]!.AsArray());
            Assert.Equal((current, 0L), ((string?)only!["hash"], (long)only["job_count"]!));
            using var theirDetail = await other.GetAsync($"/api/v1/workflows/pinned_steps/versions/{pinned}", ct);
            Assert.Equal(HttpStatusCode.NotFound, theirDetail.StatusCode);
            using var unknown = await client.GetAsync("/api/v1/workflows/no_such_workflow/versions", ct);
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }
        finally
        {
            client.Dispose();
            await StopAsync(api, worker);
        }
    }

    [Fact]
    public async Task AJobThatSleptThroughAChangeWakesUpOnItsPinnedVersion()
    {
        var ct = TestContext.Current.CancellationToken;
        using var files = PinnedWorkflowFiles.Create();
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = (await TestEnvironment.CreateAsync(servers, nameof(PinnedDefinitionTests) + "_wake")).Settings(files.Settings(llm));

        var (api, worker) = await StartAsync(settings, ct);
        var client = api.CreateAuthenticatedClient();
        try
        {
            var job = await SubmitAsync(client, "pinned_sleep", new { topic = "naps", seconds = 2 }, ct);
            await JobPolling.WaitForStatusAsync(client, $"/api/v1/status/{job}", "waiting", TimeSpan.FromSeconds(30), ct);
            await worker.DisposeAsync();

            files.Write("v2");
            worker = await WorkerHost.StartAsync(settings, ct);
            var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", TimeSpan.FromSeconds(30), ct);
            Assert.Equal("completed", (string?)done["status"]);
            Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "TWO-v1"));
            Assert.Equal(0, PipelineTestWorkflows.CallsContaining(llm, "-v2"));
        }
        finally
        {
            client.Dispose();
            await StopAsync(api, worker);
        }
    }

    [Fact]
    public async Task AJobThatSleptThroughAPriceChangeIsBilledAtItsPinnedPrices()
    {
        var ct = TestContext.Current.CancellationToken;
        using var files = PinnedWorkflowFiles.Create();
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = (await TestEnvironment.CreateAsync(servers, nameof(PinnedDefinitionTests) + "_prices")).Settings(files.Settings(llm));
        SetPrice(settings, 1000m);

        var (api, worker) = await StartAsync(settings, ct);
        var client = api.CreateAuthenticatedClient();
        try
        {
            var job = await SubmitAsync(client, "pinned_sleep", new { topic = "prices", seconds = 2 }, ct);
            await JobPolling.WaitForStatusAsync(client, $"/api/v1/status/{job}", "waiting", TimeSpan.FromSeconds(30), ct);
            await worker.DisposeAsync();

            // The price rises tenfold while the job sleeps: its second call, made after the wake-up, is still billed
            // at the price the job was submitted with.
            SetPrice(settings, 10_000m);
            worker = await WorkerHost.StartAsync(settings, ct);
            var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", TimeSpan.FromSeconds(30), ct);
            Assert.Equal("completed", (string?)done["status"]);
            var calls = done["steps"]!.AsArray().Where(s => (string?)s!["type"] == "llm").ToList();
            Assert.Equal(["one", "two"], calls.Select(s => (string?)s!["step_id"]));
            foreach (var call in calls)
            {
                var tokens = (int)call!["input_tokens"]! + (int)call["output_tokens"]!;
                Assert.Equal(Math.Round(tokens * 1000m / 1_000_000m, 6), (decimal)call["cost_usd"]!);
            }
        }
        finally
        {
            client.Dispose();
            await StopAsync(api, worker);
        }
    }

    private static void SetPrice(Dictionary<string, string?> settings, decimal perMillion)
    {
        settings["Pricing:Models:openai/gpt-4o-mini:InputPerMillion"] = perMillion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Pricing:Models:openai/gpt-4o-mini:OutputPerMillion"] = perMillion.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static readonly Dictionary<string, string?> OtherTenant = new()
    {
        ["Auth:ApiKeys:2:Name"] = "other",
        ["Auth:ApiKeys:2:Key"] = OtherTenantKey,
        ["Auth:ApiKeys:2:Tenant"] = "other-app",
    };

    internal static async Task<(ApiFactory Api, WorkerHost Worker)> StartAsync(Dictionary<string, string?> settings, CancellationToken ct)
    {
        var api = new ApiFactory(settings);
        return (api, await WorkerHost.StartAsync(settings, ct));
    }

    internal static async Task StopAsync(ApiFactory api, WorkerHost worker)
    {
        await worker.DisposeAsync();
        await api.DisposeAsync();
    }

    internal static async Task<string> SubmitAsync(HttpClient client, string workflow, object input, CancellationToken ct)
    {
        using var submitted = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = workflow, input_data = input }, ct);
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        return (string)(await submitted.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;
    }
}
