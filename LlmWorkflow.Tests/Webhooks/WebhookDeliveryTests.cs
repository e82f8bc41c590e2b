using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Worker.Webhooks;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>
/// Delivery by a real worker host to real receivers: retries on a shortened schedule, redirects, 410, timeouts,
/// Retry-After, the missing-secret refusal, dead letters and admin replay. Jobs here carry their own secret
/// (the service has none).
/// </summary>
[IntegrationTest]
public sealed class WebhookDeliveryTests(TestServers servers) : IAsyncLifetime
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan SecondDelay = TimeSpan.FromMilliseconds(400);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private TestEnvironment _environment = null!;
    private WorkerHost _worker = null!;
    private WebhookReceiver _receiver = null!;

    private NpgsqlDataSource Database => _worker.Services.GetRequiredService<NpgsqlDataSource>();

    public async ValueTask InitializeAsync()
    {
        _environment = await TestEnvironment.CreateAsync(servers, nameof(WebhookDeliveryTests));
        _worker = await WorkerHost.StartAsync(Settings());
        _receiver = await WebhookReceiver.StartAsync("job-secret-123");
    }

    [Fact]
    public async Task ReceiverFailingTwiceGetsThreeAttemptsAtTheConfiguredDelaysRecordedInOrder()
    {
        _receiver.Enqueue(new FakeResponse(500, "down"));
        _receiver.Enqueue(new FakeResponse(400, "not yet"));
        var jobId = await FinishedJobs.CompleteWithWebhookAsync(Database, _receiver.HookUrl, _receiver.Secret);

        var attempts = await FinishedJobs.WaitForLatestStateAsync(Database, jobId, WebhookAttemptStates.Delivered, Wait);

        Assert.Equal([1, 2, 3], attempts.Select(a => a.AttemptNumber));
        Assert.Equal([WebhookAttemptStates.Failed, WebhookAttemptStates.Failed, WebhookAttemptStates.Delivered], attempts.Select(a => a.State));
        Assert.Equal([500, 400, 204], attempts.Select(a => a.HttpStatus));
        Assert.Equal("down", attempts[0].ResponseBody);
        Assert.Single(attempts.Select(a => a.EventId).Distinct());
        Assert.All(attempts.Take(2), a => Assert.NotNull(a.NextRetryAt));
        Assert.Null(attempts[2].NextRetryAt);

        var requests = _receiver.Requests;
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal(VerificationResult.Valid, _receiver.Verify(r)));
        Assert.Single(requests.Select(r => r.Header("webhook-id")).Distinct());
        Assert.Equal(attempts[0].EventId, requests[0].Header("webhook-id"));
        // Every attempt sends the same body, and the admin view shows that body.
        Assert.Single(requests.Select(r => r.Body).Distinct());
        Assert.All(attempts, a => Assert.Equal(requests[0].Body, a.Payload!.ToJsonString()));
        AssertGap(requests[0], requests[1], FirstDelay);
        AssertGap(requests[1], requests[2], SecondDelay);
    }

    [Fact]
    public async Task RedirectIsAFailureAndIsNotFollowed()
    {
        _receiver.Enqueue(new FakeResponse(302) { Headers = new Dictionary<string, string> { ["Location"] = new Uri(_receiver.BaseUrl, "moved").ToString() } });
        var jobId = await FinishedJobs.CompleteWithWebhookAsync(Database, _receiver.HookUrl, _receiver.Secret);

        var attempts = await FinishedJobs.WaitForLatestStateAsync(Database, jobId, WebhookAttemptStates.Delivered, Wait);

        Assert.Equal(2, attempts.Count);
        Assert.Equal(302, attempts[0].HttpStatus);
        Assert.Equal(WebhookAttemptStates.Failed, attempts[0].State);
        Assert.Contains("Redirects are not followed", attempts[0].ErrorMessage, StringComparison.Ordinal);
        Assert.All(_receiver.Requests, r => Assert.Equal("/hooks/llm", r.Path));
    }

    [Fact]
    public async Task GoneStopsRetrying()
    {
        _receiver.Enqueue(new FakeResponse(410, "unsubscribed"));
        var jobId = await FinishedJobs.CompleteWithWebhookAsync(Database, _receiver.HookUrl, _receiver.Secret);

        var attempts = await FinishedJobs.WaitForLatestStateAsync(Database, jobId, WebhookAttemptStates.Gone, Wait);

        // The next attempt would have been inserted by the same statement that recorded this one.
        var attempt = Assert.Single(attempts);
        Assert.Equal(410, attempt.HttpStatus);
        Assert.Null(attempt.NextRetryAt);
        Assert.Equal(1, _receiver.CallCount);
    }

    [Fact]
    public async Task SlowReceiverTimesOutAndIsRetried()
    {
        _receiver.Enqueue(new FakeResponse(200) { Delay = TimeSpan.FromSeconds(20) });
        var jobId = await FinishedJobs.CompleteWithWebhookAsync(Database, _receiver.HookUrl, _receiver.Secret);

        var attempts = await FinishedJobs.WaitForLatestStateAsync(Database, jobId, WebhookAttemptStates.Delivered, Wait);

        Assert.Equal(2, attempts.Count);
        Assert.Equal(WebhookAttemptStates.Failed, attempts[0].State);
        Assert.Null(attempts[0].HttpStatus);
        Assert.Equal("Timed out after 1 s.", attempts[0].ErrorMessage);
        Assert.InRange(attempts[0].DurationMs ?? 0, 900, 5000);
        await _receiver.RequestAborted.WaitAsync(Wait, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task RetryAfterOfA503IsHonoured()
    {
        _receiver.Enqueue(new FakeResponse(503).WithRetryAfter(TimeSpan.FromSeconds(1)));
        var jobId = await FinishedJobs.CompleteWithWebhookAsync(Database, _receiver.HookUrl, _receiver.Secret);

        await FinishedJobs.WaitForLatestStateAsync(Database, jobId, WebhookAttemptStates.Delivered, Wait);

        var requests = _receiver.Requests;
        Assert.Equal(2, requests.Count);
        AssertGap(requests[0], requests[1], TimeSpan.FromSeconds(1), jitter: 0);
    }

    [Fact]
    public async Task WithoutAnySecretNothingIsSentAndTheEventIsDeadLettered()
    {
        var jobId = await FinishedJobs.CompleteWithWebhookAsync(Database, _receiver.HookUrl, webhookSecret: null);

        var attempts = await FinishedJobs.WaitForLatestStateAsync(Database, jobId, WebhookAttemptStates.DeadLettered, Wait);

        var attempt = Assert.Single(attempts);
        Assert.Equal(WebhookDispatcher.NoSecretError, attempt.ErrorMessage);
        Assert.Equal(0, _receiver.CallCount);
    }

    [Fact]
    public async Task DeadLetteredDeliveryIsReplayedOnceTheReceiverIsBack()
    {
        var ct = TestContext.Current.CancellationToken;
        for (var i = 0; i < 3; i++)
        {
            _receiver.Enqueue(new FakeResponse(503, "maintenance"));
        }

        var jobId = await FinishedJobs.CompleteWithWebhookAsync(Database, _receiver.HookUrl, _receiver.Secret);
        var failed = await FinishedJobs.WaitForLatestStateAsync(Database, jobId, WebhookAttemptStates.DeadLettered, Wait);
        Assert.Equal([WebhookAttemptStates.Failed, WebhookAttemptStates.Failed, WebhookAttemptStates.DeadLettered], failed.Select(a => a.State));

        await using var api = new ApiFactory(Settings());
        using var admin = api.CreateAuthenticatedClient(admin: true);
        var deadLetters = await admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/webhooks/dead-letters?limit=10", ct);
        Assert.Contains(deadLetters!, d => (string?)d!["job_id"] == jobId.ToString() && (int?)d["attempt_number"] == 3);

        var replay = await admin.PostAsync($"/api/v1/admin/webhooks/{jobId}/replay", null, ct);
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        var replayed = await replay.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.Equal(4, (int?)replayed!["attempt_number"]);
        Assert.Equal(failed[0].EventId, (string?)replayed["event_id"]);

        var attempts = await FinishedJobs.WaitForLatestStateAsync(Database, jobId, WebhookAttemptStates.Delivered, Wait);
        Assert.Equal([1, 2, 3, 4], attempts.Select(a => a.AttemptNumber));
        Assert.Equal(204, attempts[3].HttpStatus);
        Assert.Equal(VerificationResult.Valid, _receiver.Verify(_receiver.Requests[^1]));
        // The replay sends the body the first attempt sent.
        Assert.Single(_receiver.Requests.Select(r => r.Body).Distinct());

        var listed = await admin.GetFromJsonAsync<JsonArray>($"/api/v1/admin/webhooks/{jobId}", ct);
        Assert.NotNull(listed);
        Assert.Equal(["failed", "failed", "dead_lettered", "delivered"], listed.Select(a => (string?)a!["state"]));
        Assert.DoesNotContain(_receiver.Secret, listed.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEventStoredWholeByThePreviousVersionIsDeliveredAndShownAsStored()
    {
        var jobId = await FinishedJobs.CompleteWithWebhookAsync(Database, _receiver.HookUrl, _receiver.Secret);
        var legacyBody = new JsonObject
        {
            ["event"] = "workflow.completed", ["job_id"] = jobId.ToString(), ["status"] = "completed", ["workflow_name"] = "hello_transform",
            ["user_id"] = "user-1", ["result"] = FinishedJobs.SampleResult.DeepClone(),
            ["metadata"] = new JsonObject { ["duration_ms"] = 1234, ["total_tokens"] = 42, ["cost_usd"] = 0.0012m, ["username"] = "ada", ["action"] = "tests", ["attempt"] = 1 },
            ["error"] = null, ["timestamp"] = "2026-11-21T12:00:00.123456Z",
        };
        var legacyId = WebhookOutbox.NewEventId();
        await using (var command = Database.CreateCommand("""
            INSERT INTO llm_webhook_attempts (job_id, event_id, event_type, attempt_number, webhook_url, payload, attempted_at, next_retry_at, state)
            VALUES ($1, $2, 'workflow.completed', 1, $3, $4::jsonb, now(), now(), 'pending')
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = jobId });
            command.Parameters.Add(new NpgsqlParameter { Value = legacyId });
            command.Parameters.Add(new NpgsqlParameter { Value = _receiver.HookUrl });
            command.Parameters.Add(new NpgsqlParameter { Value = legacyBody.ToJsonString() });
            await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        var requests = await _receiver.WaitForRequestsAsync(2, Wait);

        var legacy = Assert.Single(requests, r => r.Header("webhook-id") == legacyId);
        Assert.Equal(VerificationResult.Valid, _receiver.Verify(legacy));
        Assert.True(JsonNode.DeepEquals(legacyBody, legacy.Json), legacy.Body);
        var attempts = await FinishedJobs.AttemptsAsync(Database, jobId);
        Assert.Equal(legacy.Body, attempts.First(a => a.EventId == legacyId).Payload!.ToJsonString());
        // The snapshot-rendered event of the same job carries the same fields as the one the previous version stored.
        var rendered = Assert.Single(requests, r => r.Header("webhook-id") != legacyId).Json!.AsObject();
        Assert.Equal(legacyBody.Select(p => p.Key).Order(), rendered.Select(p => p.Key).Order());
    }

    [Fact]
    public async Task ReplayAllDeadLettersSinceATimeSchedulesEachOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        for (var i = 0; i < 6; i++)
        {
            _receiver.Enqueue(new FakeResponse(500));
        }

        var first = await FinishedJobs.CompleteWithWebhookAsync(Database, _receiver.HookUrl, _receiver.Secret);
        var second = await FinishedJobs.CompleteWithWebhookAsync(Database, _receiver.HookUrl, _receiver.Secret);
        await FinishedJobs.WaitForLatestStateAsync(Database, first, WebhookAttemptStates.DeadLettered, Wait);
        await FinishedJobs.WaitForLatestStateAsync(Database, second, WebhookAttemptStates.DeadLettered, Wait);

        await using var api = new ApiFactory(Settings());
        using var admin = api.CreateAuthenticatedClient(admin: true);
        var response = await admin.PostAsync($"/api/v1/admin/webhooks/replay?since={Uri.EscapeDataString(since.ToString("O"))}", null, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var replayed = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.Equal(2, (int?)replayed?["replayed"]);

        await FinishedJobs.WaitForLatestStateAsync(Database, first, WebhookAttemptStates.Delivered, Wait);
        await FinishedJobs.WaitForLatestStateAsync(Database, second, WebhookAttemptStates.Delivered, Wait);
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    private Dictionary<string, string?> Settings() => _environment.Settings(new Dictionary<string, string?>
    {
        ["Webhooks:AllowPrivateNetworks"] = "true",
        ["Webhooks:RetryDelays:0"] = FirstDelay.ToString(),
        ["Webhooks:RetryDelays:1"] = SecondDelay.ToString(),
        ["Webhooks:PollInterval"] = "00:00:00.050",
        ["Webhooks:Timeout"] = "00:00:01",
    });

    /// <summary>The receiver saw the second request no earlier than the delay allows (minus jitter) and not much later.</summary>
    private static void AssertGap(RecordedRequest earlier, RecordedRequest later, TimeSpan delay, double jitter = 0.10)
    {
        var gap = Stopwatch.GetElapsedTime(earlier.Timestamp, later.Timestamp);
        Assert.InRange(gap, delay * (1 - jitter), delay * (1 + jitter) + TimeSpan.FromSeconds(1));
    }
}
