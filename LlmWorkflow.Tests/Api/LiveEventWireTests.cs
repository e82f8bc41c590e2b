using System.Net.ServerSentEvents;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.Api;

/// <summary>
/// The terminal live event the API rebuilds from the job row when the job's Redis stream is gone (expired, or never
/// written): the shared <see cref="LiveJobEvent"/> record, with the fields clients have always been sent.
/// </summary>
[IntegrationTest]
public sealed class LiveEventWireTests(TestServers servers) : IAsyncLifetime
{
    private ApiFactory _api = null!;

    public async ValueTask InitializeAsync() =>
        _api = new ApiFactory((await TestEnvironment.CreateAsync(servers, nameof(LiveEventWireTests))).Settings());

    [Theory]
    [InlineData("completed", LiveEventTypes.RunCompleted)]
    [InlineData("failed", LiveEventTypes.RunFailed)]
    [InlineData("cancelled", LiveEventTypes.Cancelled)]
    public async Task AFinishedJobWithoutLiveEventsGetsItsEndRebuiltFromTheRow(string status, string type)
    {
        var ct = TestContext.Current.CancellationToken;
        using var admin = _api.CreateAuthenticatedClient(admin: true);
        var database = _api.Services.GetRequiredService<NpgsqlDataSource>();
        var error = status == "completed" ? null : JsonNode.Parse("""
            {"type":"TestError","category":"SYSTEM_ERROR","message":"boom","retryable":false,"retry_after":null,"step_id":null,"details":null,"suggestions":[]}
            """);
        var result = status == "completed" ? FinishedJobs.SampleResult.DeepClone() : null;
        var id = await FinishedJobs.FinishWithWebhookAsync(database, "https://receiver.example/hook", "secret", status, result, error);

        using var response = await admin.GetAsync($"/api/v1/jobs/{id}/events", HttpCompletionOption.ResponseHeadersRead, ct);
        var items = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(ct)).EnumerateAsync(ct))
        {
            items.Add(item);
        }

        var only = Assert.Single(items);
        Assert.Equal(type, only.EventType);
        Assert.Equal(type, JsonSerializer.Deserialize(only.Data, WireJsonContext.Default.LiveJobEvent)!.Type);
        var fields = JsonNode.Parse(only.Data)!.AsObject();
        string[] expected = error is null
            ? ["type", "job_id", "timestamp", "status", "cost_usd", "total_tokens", "from_database"]
            : ["type", "job_id", "timestamp", "status", "cost_usd", "total_tokens", "from_database", "error", "cancelled"];
        Assert.Equal(expected.Order(), fields.Select(p => p.Key).Order());
        Assert.Equal((id.ToString(), status, true, 42), ((string?)fields["job_id"], (string?)fields["status"], (bool?)fields["from_database"], (int?)fields["total_tokens"]));
        if (error is not null)
        {
            Assert.Equal("boom", (string?)fields["error"]?["message"]);
            Assert.Equal(status == "cancelled", (bool?)fields["cancelled"]);
        }
    }

    [Fact]
    public async Task LiveEventsThatReachRedisJustAfterTheFinishAreServedNotRebuilt()
    {
        var ct = TestContext.Current.CancellationToken;
        using var admin = _api.CreateAuthenticatedClient(admin: true);
        var database = _api.Services.GetRequiredService<NpgsqlDataSource>();
        var id = await FinishedJobs.FinishWithWebhookAsync(database, "https://receiver.example/hook", "secret", "completed", FinishedJobs.SampleResult.DeepClone(), null);
        // The grace for late events runs from the finish; a loaded machine can take longer than it to bring the request
        // below to its database check (it took 14 s once), which then rightly rebuilds the end from the row. A finish
        // stamped a minute ahead (a worker whose clock runs ahead of the API's) keeps the request inside the grace.
        await using (var ahead = database.CreateCommand("UPDATE llm_workflow_jobs SET completed_at = now() + interval '1 minute' WHERE id = $1"))
        {
            ahead.Parameters.Add(new NpgsqlParameter { Value = id });
            await ahead.ExecuteNonQueryAsync(ct);
        }


        // The worker's publisher writes in the background: the row says completed before the stream has its events.
        var events = _api.Services.GetRequiredService<JobEventStream>();
        var late = Task.Run(async () =>
        {
            // Once the request watches the job's notices it has read the stream, found it empty and seen the row
            // finished: only then do the events arrive.
            while (!events.IsWatched(id))
            {
                await Task.Delay(10, ct);
            }

            await Task.Delay(200, ct);
            await events.PublishAsync(new RunStartedEvent(id.ToString(), DateTimeOffset.UtcNow, "hello_transform", 1), ct);
            await events.PublishAsync(new RunCompletedEvent(id.ToString(), DateTimeOffset.UtcNow, 0m, 42), ct);
        }, ct);
        using var response = await admin.GetAsync($"/api/v1/jobs/{id}/events", HttpCompletionOption.ResponseHeadersRead, ct);
        await late;

        var items = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(ct)).EnumerateAsync(ct))
        {
            items.Add(item);
        }

        Assert.Equal([LiveEventTypes.RunStarted, LiveEventTypes.RunCompleted], items.Select(i => i.EventType));
        Assert.Null(JsonNode.Parse(items[^1].Data)!["from_database"]);
    }

    public async ValueTask DisposeAsync() => await _api.DisposeAsync();
}
