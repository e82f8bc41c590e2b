using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;
using Npgsql;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Api.Jobs;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>
/// The payload shape of the documents and the size cap, as the terminal transitions record it: the finishing
/// statement stores a snapshot of the finished row and <see cref="WebhookBodies"/> renders the body from it, so these
/// tests finish real job rows in Postgres and render the recorded event as the dispatcher does.
/// </summary>
[IntegrationTest]
public sealed class WebhookPayloadTests(WebhookPayloadTests.CappedPayloads database) : IClassFixture<WebhookPayloadTests.CappedPayloads>
{
    private const int MaxPayloadBytes = 4096;

    // One database for the class: every test finishes its own job and renders that job's event.
    private readonly LifecycleDatabase _db = database.Database;

    public sealed class CappedPayloads(TestServers servers) : ClassLifecycleDatabase(servers)
    {
        protected override IDictionary<string, string?> Settings =>
            new Dictionary<string, string?> { ["Webhooks:MaxPayloadBytes"] = MaxPayloadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) };
    }

    [Fact]
    public async Task CompletedPayloadCarriesResultMetadataAndTimestamp()
    {
        var id = await RunningJobAsync();
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);

        Assert.True(await _db.Run.FinishAsync(id, "worker-a",
            new JobOutcome(JobStatus.Completed, FinishedJobs.SampleResult.DeepClone(), null, 300, 21, 0.0123m), CancellationToken.None));

        var payload = await PayloadAsync(id);
        Assert.Equal("workflow.completed", (string?)payload["event"]);
        Assert.Equal(id.ToString(), (string?)payload["job_id"]);
        Assert.Equal("completed", (string?)payload["status"]);
        Assert.Equal("hello_transform", (string?)payload["workflow_name"]);
        Assert.Equal("user-1", (string?)payload["user_id"]);
        Assert.Equal("Walk the dog.", (string?)payload["result"]?["output"]?["mission_plan"]);
        Assert.Equal(42, (int?)payload["result"]?["cost_data"]?["total_tokens"]);
        var metadata = payload["metadata"]!;
        Assert.InRange((int)metadata["duration_ms"]!, 1400, 120_000);
        Assert.Equal(321, (int?)metadata["total_tokens"]);
        Assert.Equal(0.0123m, (decimal?)metadata["cost_usd"]);
        Assert.Equal(0.0123m, (decimal?)metadata["total_cost_usd"]); // document 001's name, beside ours
        Assert.Equal("ada", (string?)metadata["username"]);
        Assert.Equal("generate", (string?)metadata["action"]);
        Assert.Equal(1, (int?)metadata["attempt"]);
        Assert.Null(payload["error"]);
        Assert.InRange((DateTimeOffset)payload["timestamp"]!, before, DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.EndsWith("Z", (string)payload["timestamp"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FailedPayloadCarriesTheStructuredError()
    {
        var id = await RunningJobAsync();
        var error = new WorkflowError
        {
            Type = "TimeoutError", Category = ErrorCategory.ExternalError, Message = "API request timed out",
            Retryable = true, RetryAfterSeconds = 30, StepId = "fetch_weather", Details = new JsonObject { ["service"] = "weatherapi" },
            Suggestions = ["Retry after 30s", "Check service status"],
        };

        Assert.True(await _db.Run.FinishAsync(id, "worker-a", new JobOutcome(JobStatus.Failed, null, error, 0, 0, 0m), CancellationToken.None));

        var payload = await PayloadAsync(id);
        Assert.Equal("workflow.failed", (string?)payload["event"]);
        Assert.Null(payload["result"]);
        Assert.True(JsonNode.DeepEquals(JobErrors.ToJson(error), payload["error"]), payload["error"]?.ToJsonString());
        // Document 001's failure payload: details.service and details.suggestions.
        Assert.Equal("weatherapi", (string?)payload["error"]!["details"]!["service"]);
        Assert.Equal(["Retry after 30s", "Check service status"], payload["error"]!["details"]!["suggestions"]!.AsArray().Select(s => (string?)s));
    }

    [Fact]
    public async Task CancelledWaitingJobPayloadSaysCancelled()
    {
        var id = await _db.InsertJobAsync(JobStatus.Queued);

        Assert.Equal(CancelOutcome.Cancelled, await _db.CommandsAsync(c => c.CancelAsync(id, CancellationToken.None)));

        var payload = await PayloadAsync(id);
        Assert.Equal("workflow.cancelled", (string?)payload["event"]);
        Assert.Equal("cancelled", (string?)payload["status"]);
    }

    [Fact]
    public async Task OutputAboveTheCapIsReplacedByTheStatusUrl()
    {
        var id = await RunningJobAsync();
        var big = new JsonObject
        {
            ["output"] = new JsonObject { ["text"] = new string('x', 5000) },
            ["cost_data"] = new JsonObject { ["total_tokens"] = 7 },
        };

        Assert.True(await _db.Run.FinishAsync(id, "worker-a", new JobOutcome(JobStatus.Completed, big, null, 3, 4, 0m), CancellationToken.None));

        var payload = await PayloadAsync(id);
        var output = payload["result"]!["output"]!;
        Assert.True((bool?)output["truncated"]);
        Assert.Equal($"/api/v1/status/{id}", (string?)output["status_url"]);
        Assert.True((int?)output["size_bytes"] > 5000);
        Assert.Equal(7, (int?)payload["result"]!["cost_data"]!["total_tokens"]);
        Assert.True(Encoding.UTF8.GetByteCount(payload.ToJsonString()) < MaxPayloadBytes);
    }

    [Fact]
    public async Task OutputUnderTheCapIsKept()
    {
        var id = await RunningJobAsync();

        Assert.True(await _db.Run.FinishAsync(id, "worker-a",
            new JobOutcome(JobStatus.Completed, FinishedJobs.SampleResult.DeepClone(), null, 1, 1, 0m), CancellationToken.None));

        Assert.Equal("Walk the dog.", (string?)(await PayloadAsync(id))["result"]?["output"]?["mission_plan"]);
    }

    [Fact]
    public async Task EveryRenderingOfOneStoredEventIsTheSameBytesWhateverTheCapIsLater()
    {
        var id = await RunningJobAsync();
        var big = new JsonObject { ["output"] = new JsonObject { ["text"] = new string('x', 5000) }, ["cost_data"] = null };
        Assert.True(await _db.Run.FinishAsync(id, "worker-a", new JobOutcome(JobStatus.Completed, big, null, 3, 4, 0m), CancellationToken.None));
        var stored = await StoredPayloadAsync(id);

        var first = WebhookBodies.ToUtf8(stored);
        await Task.Delay(20, TestContext.Current.CancellationToken);
        // A retry or replay copies the stored payload; the cap in force when the job finished travels with it.
        var copied = JsonNode.Parse(stored)!.ToJsonString();

        Assert.Equal(first, WebhookBodies.ToUtf8(copied));
        Assert.Equal(MaxPayloadBytes, (int?)JsonNode.Parse(stored)![WebhookBodies.SnapshotKey]!["max_payload_bytes"]);
        Assert.True((bool?)JsonNode.Parse(first)!["result"]!["output"]!["truncated"]);
    }

    [Fact]
    public async Task ABodyStoredWholeByThePreviousVersionIsSentAsStored()
    {
        var legacy = """
            {"event":"workflow.completed","job_id":"0193a5d2-6f1e-7c4b-9d3a-2f0e8b7c6a51","status":"completed","workflow_name":"w",
             "user_id":null,"result":{"output":{"a":1},"cost_data":null},"metadata":{"duration_ms":1,"total_tokens":2,"cost_usd":0.5,
             "username":null,"action":null,"attempt":1},"error":null,"timestamp":"2026-11-21T12:00:00.123456Z"}
            """;

        var sent = WebhookBodies.ToUtf8(legacy);

        Assert.Equal(JsonNode.Parse(legacy)!.ToJsonString(), Encoding.UTF8.GetString(sent));
    }

    /// <summary>A running job leased to worker-a, started 1.5 s ago, with a caller identity.</summary>
    private async Task<Guid> RunningJobAsync()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        await using var command = _db.Database.CreateCommand(
            "UPDATE llm_workflow_jobs SET user_id = 'user-1', username = 'ada', action = 'generate', started_at = now() - interval '1500 milliseconds' WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await command.ExecuteNonQueryAsync();
        return id;
    }

    /// <summary>The body the dispatcher sends for the job's first recorded event.</summary>
    private async Task<JsonObject> PayloadAsync(Guid id) => JsonNode.Parse(WebhookBodies.ToUtf8(await StoredPayloadAsync(id)))!.AsObject();

    private async Task<string> StoredPayloadAsync(Guid id)
    {
        await using var command = _db.Database.CreateCommand("SELECT payload::text FROM llm_webhook_attempts WHERE job_id = $1 AND attempt_number = 1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
