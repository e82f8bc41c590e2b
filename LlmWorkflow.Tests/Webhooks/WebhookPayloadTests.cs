using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Webhooks;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>The payload shape of the documents and the size cap.</summary>
public sealed class WebhookPayloadTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    private static WebhookJobSnapshot Job(JsonNode? result, JsonNode? error = null, string status = "completed") =>
        new(Guid.Parse("0193a5d2-0000-7000-8000-000000000001"), "mission_generation", status, "user-1", "ada", "generate", 2,
            result, error, 1500, 321, 0.0123m);

    [Fact]
    public void CompletedPayloadCarriesResultMetadataAndTimestamp()
    {
        var payload = WebhookPayloads.Terminal(WebhookEventTypes.Completed, Job(FinishedJobs.SampleResult), Now, 256 * 1024);

        Assert.Equal("workflow.completed", (string?)payload["event"]);
        Assert.Equal("0193a5d2-0000-7000-8000-000000000001", (string?)payload["job_id"]);
        Assert.Equal("completed", (string?)payload["status"]);
        Assert.Equal("mission_generation", (string?)payload["workflow_name"]);
        Assert.Equal("user-1", (string?)payload["user_id"]);
        Assert.Equal("Walk the dog.", (string?)payload["result"]?["output"]?["mission_plan"]);
        Assert.Equal(42, (int?)payload["result"]?["cost_data"]?["total_tokens"]);
        var metadata = payload["metadata"]!;
        Assert.Equal(1500, (int?)metadata["duration_ms"]);
        Assert.Equal(321, (int?)metadata["total_tokens"]);
        Assert.Equal(0.0123m, (decimal?)metadata["cost_usd"]);
        Assert.Equal("ada", (string?)metadata["username"]);
        Assert.Equal("generate", (string?)metadata["action"]);
        Assert.Equal(2, (int?)metadata["attempt"]);
        Assert.Null(payload["error"]);
        Assert.Equal(Now, (DateTimeOffset?)payload["timestamp"]);
    }

    [Fact]
    public void FailedPayloadCarriesTheStructuredError()
    {
        var error = new JsonObject
        {
            ["type"] = "TimeoutError", ["category"] = "EXTERNAL_ERROR", ["message"] = "API request timed out",
            ["retryable"] = true, ["retry_after"] = 30, ["step_id"] = "fetch_weather", ["details"] = new JsonObject { ["service"] = "weatherapi" },
        };

        var payload = WebhookPayloads.Terminal(WebhookEventTypes.Failed, Job(null, error, "failed"), Now, 256 * 1024);

        Assert.Equal("workflow.failed", (string?)payload["event"]);
        Assert.Null(payload["result"]);
        Assert.True(JsonNode.DeepEquals(error, payload["error"]));
    }

    [Fact]
    public void OutputAboveTheCapIsReplacedByTheStatusUrl()
    {
        var big = new JsonObject
        {
            ["output"] = new JsonObject { ["text"] = new string('x', 5000) },
            ["cost_data"] = new JsonObject { ["total_tokens"] = 7 },
        };

        var payload = WebhookPayloads.Terminal(WebhookEventTypes.Completed, Job(big), Now, maxPayloadBytes: 4096);

        var output = payload["result"]!["output"]!;
        Assert.True((bool?)output["truncated"]);
        Assert.Equal("/api/v1/status/0193a5d2-0000-7000-8000-000000000001", (string?)output["status_url"]);
        Assert.True((int?)output["size_bytes"] > 5000);
        Assert.Equal(7, (int?)payload["result"]!["cost_data"]!["total_tokens"]);
        Assert.True(payload.ToJsonString().Length < 4096);
    }

    [Fact]
    public void OutputUnderTheCapIsKept()
    {
        var payload = WebhookPayloads.Terminal(WebhookEventTypes.Completed, Job(FinishedJobs.SampleResult), Now, maxPayloadBytes: 1024);
        Assert.Equal("Walk the dog.", (string?)payload["result"]?["output"]?["mission_plan"]);
    }
}
