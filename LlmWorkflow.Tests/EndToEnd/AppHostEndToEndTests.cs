using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.EndToEnd;

/// <summary>
/// The application as <c>dotnet run --project LlmWorkflow.AppHost</c> runs it, started by Aspire.Hosting.Testing from
/// the AppHost's own model: the README's first job, its trace in the Aspire dashboard, and a worker replica stopped
/// in the middle of a job.
/// </summary>
[SystemTest]
public sealed class AppHostEndToEndTests(AspireAppFixture app) : IClassFixture<AspireAppFixture>
{
    [Fact]
    public async Task TheReadmesFirstJobCompletes()
    {
        var status = await RunAsync(Submission("hello_transform", new JsonObject { ["name"] = "Ada" }), TimeSpan.FromSeconds(60));

        Assert.Equal("completed", (string?)status["status"]);
        Assert.Equal("Hello, Ada!", (string?)status["result"]?["output"]?["greeting"]);
    }

    [Fact]
    public async Task AJobsTraceReachesTheAspireDashboard()
    {
        var ct = TestContext.Current.CancellationToken;
        // The caller's trace is current while it submits, as in a main application with tracing. Its traceparent goes
        // in the header; when an OpenTelemetry tracer in this process (another test's in-process host) instruments
        // HttpClient, it replaces that header with its own span's, which is then a child in the same trace.
        var trace = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        var traceId = trace.TraceId.ToHexString();
        JsonObject? accepted;
        using (new Activity("main app: submit").SetParentId(trace.TraceId, trace.SpanId, trace.TraceFlags).Start())
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workflow")
            {
                Content = JsonContent.Create(Submission("hello_transform", new JsonObject { ["name"] = "Trace" })),
                Headers = { { "traceparent", $"00-{traceId}-{trace.SpanId.ToHexString()}-01" } },
            };
            accepted = await (await app.Api.SendAsync(request, ct)).EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonObject>(ct);
        }

        var status = await JobPolling.WaitForTerminalAsync(app.Api, (string)accepted!["status_url"]!, TimeSpan.FromSeconds(60), ct);
        Assert.Equal("completed", (string?)status["status"]);
        Assert.Equal(traceId, (string?)status["trace_id"]);

        // The dashboard's telemetry API answers with what its OTLP endpoint received; exports are batched, so wait.
        using var dashboard = new HttpClient { BaseAddress = app.DashboardUrl };
        dashboard.DefaultRequestHeaders.Add("x-api-key", app.DashboardApiKey);
        var services = new HashSet<string>();
        var deadline = Stopwatch.StartNew();
        var lastAnswer = HttpStatusCode.OK;
        while (!(services.Contains("api") && services.Contains("worker")) && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
            using var response = await dashboard.GetAsync($"/api/telemetry/traces/{traceId}", ct);
            Assert.NotEqual(HttpStatusCode.Unauthorized, response.StatusCode);
            lastAnswer = response.StatusCode;
            if (response.StatusCode == HttpStatusCode.OK)
            {
                services = ServiceNames(await response.Content.ReadFromJsonAsync<JsonNode>(ct));
            }
        }

        if (!(services.Contains("api") && services.Contains("worker")))
        {
            Assert.Fail($"The trace {traceId} holds spans of [{string.Join(", ", services)}] after 60 s (last answer " +
                $"{(int)lastAnswer}); the dashboard's newest spans: {await NewestSpansAsync(dashboard, ct)}");
        }
    }

    [Fact]
    public async Task AJobWhoseWorkerIsStoppedMidJobIsFinishedByTheOther()
    {
        var ct = TestContext.Current.CancellationToken;
        var input = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Workflows, "examples", "trip_briefing.json"), ct))!;
        var accepted = await (await app.Api.PostAsJsonAsync("/api/v1/workflow", Submission("trip_briefing", input), ct))
            .EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonObject>(ct);
        var jobId = Guid.Parse((string)accepted!["job_id"]!);

        // The lease owner is the worker's id, which the AppHost makes the replica's name in the dashboard.
        await using var database = NpgsqlDataSource.Create((await app.App.GetConnectionStringAsync("postgres", ct))!);
        var first = await WaitForOwnerAsync(database, jobId, except: null, ct);
        var commands = app.App.Services.GetRequiredService<ResourceCommandService>();
        var stopped = await commands.ExecuteCommandAsync(first, KnownResourceCommands.StopCommand, ct);
        Assert.True(stopped.Success, stopped.Message);

        var second = await WaitForOwnerAsync(database, jobId, except: first, ct);
        var status = await JobPolling.WaitForTerminalAsync(app.Api, (string)accepted["status_url"]!, TimeSpan.FromSeconds(120), ct);

        Assert.Equal("completed", (string?)status["status"]);
        Assert.StartsWith("worker-", second, StringComparison.Ordinal);
        Assert.NotEqual(first, second);
        await commands.ExecuteCommandAsync(first, KnownResourceCommands.StartCommand, ct);
    }

    // What reached the dashboard at all, for a failure's message: its newest spans as service:name@trace/parent span.
    private static async Task<string> NewestSpansAsync(HttpClient dashboard, CancellationToken ct)
    {
        var answer = await dashboard.GetFromJsonAsync<JsonNode>("/api/telemetry/spans?limit=20", ct);
        var spans = new List<string>();
        foreach (var resource in answer?["data"]?["resourceSpans"]?.AsArray() ?? [])
        {
            var service = ServiceNames(new JsonObject { ["resourceSpans"] = new JsonArray(resource!.DeepClone()) }).FirstOrDefault();
            spans.AddRange((resource["scopeSpans"]?.AsArray() ?? [])
                .SelectMany(scope => scope!["spans"]?.AsArray() ?? [])
                .Select(span => $"{service}:{span!["name"]}@{(string?)span["traceId"]}/{(string?)span["parentSpanId"]}"));
        }

        return $"{answer?["totalCount"]} in all; {string.Join("; ", spans)}";
    }

    private static JsonObject Submission(string workflow, JsonNode input) =>
        new() { ["workflow_name"] = workflow, ["input_data"] = input, ["username"] = "ada", ["action"] = "end to end" };

    private async Task<JsonObject> RunAsync(JsonObject submission, TimeSpan timeout)
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await app.Api.PostAsJsonAsync("/api/v1/workflow", submission, ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        return await JobPolling.WaitForTerminalAsync(app.Api, (string)accepted!["status_url"]!, timeout, ct);
    }

    // The worker holding the job's lease once it runs there (another than `except`, after that one stopped).
    private static async Task<string> WaitForOwnerAsync(NpgsqlDataSource database, Guid jobId, string? except, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await using var command = database.CreateCommand("SELECT lease_owner FROM llm_workflow_jobs WHERE id = $1 AND status = 'processing'");
            command.Parameters.AddWithValue(jobId);
            if (await command.ExecuteScalarAsync(ct) is string owner && owner != except)
            {
                return owner;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
        }

        throw new TimeoutException($"job {jobId} did not run on a worker other than {except ?? "none"} within 60 s");
    }

    private static HashSet<string> ServiceNames(JsonNode? otlp) =>
        [.. (otlp?["data"]?["resourceSpans"] ?? otlp?["resourceSpans"])?.AsArray()
            .SelectMany(spans => spans!["resource"]?["attributes"]?.AsArray() ?? [])
            .Where(attribute => (string?)attribute!["key"] == "service.name")
            .Select(attribute => (string?)attribute!["value"]?["stringValue"] ?? "") ?? []];
}
