using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Worker.Webhooks;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>The API side (no worker running): submission checks, the cancelled event of a queued job, admin routes.</summary>
[IntegrationTest]
public sealed class WebhookAdminApiTests(ClassApi api) : IClassFixture<ClassApi>
{
    // One API for the class: each test reads the webhook records of the job it submitted, or of none.
    private readonly HttpClient _client = api.Caller;
    private readonly HttpClient _admin = api.Admin;

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/", "link-local and cloud metadata addresses are never allowed")]
    [InlineData("http://2130706433/hook", "private networks are not allowed")]
    [InlineData("http://[::ffff:127.0.0.1]/hook", "private networks are not allowed")]
    [InlineData("http://localhost:3000/api/webhooks/llm-callback", "private networks are not allowed")]
    public async Task PrivateWebhookUrlsAre400NamingTheField(string url, string reason)
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await _client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "hello_transform", input_data = new { name = "x" }, webhook_url = url }, ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        var messages = problem!["errors"]!["webhook_url"]!.AsArray();
        Assert.Contains(reason, (string?)messages[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancellingAQueuedJobRecordsACancelledEvent()
    {
        var ct = TestContext.Current.CancellationToken;
        var submitted = await _client.PostAsJsonAsync("/api/v1/workflow", new
        {
            workflow_name = "hello_transform",
            input_data = new { name = "x" },
            webhook_url = "https://hooks.example.com/llm",
            webhook_secret = "never-shown",
        }, ct);
        var jobId = (string)(await submitted.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;

        Assert.Equal(HttpStatusCode.OK, (await _client.DeleteAsync($"/api/v1/workflow/{jobId}", ct)).StatusCode);

        var response = await _admin.GetAsync($"/api/v1/admin/webhooks/{jobId}", ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        var attempt = Assert.Single(JsonNode.Parse(text)!.AsArray())!;
        Assert.Equal(WebhookEventTypes.Cancelled, (string?)attempt["event_type"]);
        Assert.Equal(WebhookAttemptStates.Pending, (string?)attempt["state"]);
        Assert.Equal(1, (int?)attempt["attempt_number"]);
        Assert.Equal("cancelled", (string?)attempt["payload"]?["status"]);
        Assert.StartsWith("msg_", (string?)attempt["event_id"], StringComparison.Ordinal);
        Assert.DoesNotContain("never-shown", text, StringComparison.Ordinal);

        // Its first attempt is still waiting for a worker, so a replay would send it twice.
        Assert.Equal(HttpStatusCode.Conflict, (await _admin.PostAsync($"/api/v1/admin/webhooks/{jobId}/replay", null, ct)).StatusCode);
    }

    [Fact]
    public async Task AdminRoutesValidateTheirInputAndNeedTheAdminKey()
    {
        var ct = TestContext.Current.CancellationToken;
        Assert.Equal(HttpStatusCode.Forbidden, (await _client.GetAsync("/api/v1/admin/webhooks/dead-letters", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _admin.GetAsync("/api/v1/admin/webhooks/dead-letters", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _admin.GetAsync("/api/v1/admin/webhooks/dead-letters?limit=0", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _admin.PostAsync($"/api/v1/admin/webhooks/{Guid.NewGuid()}/replay", null, ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _admin.PostAsync("/api/v1/admin/webhooks/replay", null, ct)).StatusCode);
        var none = await _admin.GetFromJsonAsync<JsonArray>($"/api/v1/admin/webhooks/{Guid.NewGuid()}", ct);
        Assert.Empty(none!);
    }
}
