using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Pipeline;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Tests.Schedules;

/// <summary>
/// A job's time-to-live before it starts (<c>ttl_seconds</c>, issue 80 item 8a; Trigger.dev's <c>ttl</c>, Inngest's
/// <c>timeouts.start</c>): a job no worker started by its <c>start_by</c> never runs; it ends failed with error type
/// <c>expired</c> and its <c>workflow.failed</c> webhook, on time because its <c>start_by</c> is a due time of the
/// workers' due-job waker (the API's notice cuts its sleep short, as for a <c>run_at</c>; it otherwise rereads
/// PostgreSQL only once a minute), and the claim skips it even before the waker's pass ends it.
/// </summary>
[IntegrationTest]
public sealed class JobTimeToLiveTests(TestServers servers)
{
    private const string Secret = "ttl-webhook-secret";

    /// <summary>Generous for a loaded CI machine; without the notice the waker would sleep up to a minute.</summary>
    private static readonly TimeSpan Lateness = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task AHeldJobNotStartedByItsStartByExpiresOnTimeWithItsWebhookAndAJobWithoutTtlStillRuns()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var rig = await StartAsync(nameof(AHeldJobNotStartedByItsStartByExpiresOnTimeWithItsWebhookAndAJobWithoutTtlStillRuns), worker: true, ct);
        // A paused workflow holds its new jobs (scheduled, due now): no worker may start them, so only the ttl ends one.
        using (var paused = await rig.Admin.PostAsJsonAsync("/api/v1/workflows/hello_transform/pause", new { reason = "ttl test" }, ct))
        {
            Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        }

        var expiring = await rig.SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "late" }, ttl_seconds = 1, webhook_url = receiver.HookUrl }, ct);
        var patient = await rig.SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "patient" } }, ct);
        var held = await rig.StatusAsync(expiring, ct);
        var startBy = DateTimeOffset.Parse((string)held["start_by"]!, CultureInfo.InvariantCulture);
        Assert.InRange(startBy - DateTimeOffset.Parse((string)held["created_at"]!, CultureInfo.InvariantCulture), TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(1.1));

        var expired = await JobPolling.WaitForTerminalAsync(rig.Client, (string)expiring["status_url"]!, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("failed", (string?)expired["status"]);
        Assert.Equal(JobLifecycleStore.ExpiredErrorType, (string?)expired["error"]!["type"]);
        Assert.Contains("start_by", (string?)expired["error_message"], StringComparison.Ordinal);
        Assert.Null(expired["started_at"]);
        Assert.Equal(0, (int)expired["attempt"]!);
        var completed = DateTimeOffset.Parse((string)expired["completed_at"]!, CultureInfo.InvariantCulture);
        Assert.True(completed >= startBy && completed - startBy < Lateness, $"start_by {startBy:O}, expired {completed:O}");

        var hook = Assert.Single(await receiver.WaitForRequestsAsync(1, TimeSpan.FromSeconds(30)));
        Assert.Equal("workflow.failed", hook.Header("X-Webhook-Event"));
        Assert.Equal(VerificationResult.Valid, receiver.Verify(hook));
        Assert.Equal(JobLifecycleStore.ExpiredErrorType, (string?)hook.Json!["error"]!["type"]);

        Assert.Equal("scheduled", (string?)(await rig.StatusAsync(patient, ct))["status"]);
        using (var resumed = await rig.Admin.PostAsJsonAsync("/api/v1/workflows/hello_transform/resume", new { }, ct))
        {
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        }

        var ran = await JobPolling.WaitForTerminalAsync(rig.Client, (string)patient["status_url"]!, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)ran["status"]);
        Assert.Null(ran["start_by"]);
        Assert.Equal("failed", (string?)(await rig.StatusAsync(expiring, ct))["status"]);
    }

    [Fact]
    public async Task TheClaimSkipsAQueuedJobPastItsStartByAndARetryOfTheExpiredJobRunsIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(nameof(TheClaimSkipsAQueuedJobPastItsStartByAndARetryOfTheExpiredJobRunsIt), worker: false, ct);
        var job = await rig.SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "stale" }, ttl_seconds = 1 }, ct);
        Assert.Equal("queued", (string?)job["status"]);
        var jobId = Guid.Parse((string)job["job_id"]!);
        var startBy = DateTimeOffset.Parse((string)(await rig.StatusAsync(job, ct))["start_by"]!, CultureInfo.InvariantCulture);
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow > startBy.AddMilliseconds(200)), TimeSpan.FromSeconds(10));

        // No waker runs (no worker): a worker's claim that meets the job's stream entry now takes nothing.
        var store = rig.Services.GetRequiredService<JobLifecycleStore>();
        Assert.Empty(await store.ClaimAsync([jobId], "ttl-test-worker", TimeSpan.FromMinutes(1), ct));
        Assert.Equal("queued", (string?)(await rig.StatusAsync(job, ct))["status"]);

        await rig.StartWorkerAsync(ct);
        var expired = await JobPolling.WaitForTerminalAsync(rig.Client, (string)job["status_url"]!, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("failed", (string?)expired["status"]);
        Assert.Equal(JobLifecycleStore.ExpiredErrorType, (string?)expired["error"]!["type"]);
        Assert.Null(expired["started_at"]);

        // A retry clears the time-to-live: the job runs.
        using (var retry = await rig.Client.PostAsJsonAsync($"/api/v1/jobs/{jobId}/retry", new { }, ct))
        {
            Assert.True(retry.IsSuccessStatusCode, await retry.Content.ReadAsStringAsync(ct));
        }

        var ran = await JobPolling.WaitForTerminalAsync(rig.Client, (string)job["status_url"]!, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)ran["status"]);
        Assert.Null(ran["start_by"]);
    }

    [Fact]
    public async Task ABadTtlIsRefusedNamingTheFieldAndTheTtlCountsFromRunAt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(nameof(ABadTtlIsRefusedNamingTheFieldAndTheTtlCountsFromRunAt), worker: false, ct);
        foreach (var ttl in new long[] { 0, -5, 31_536_001 })
        {
            using var response = await rig.Client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "hello_transform", input_data = new { name = "x" }, ttl_seconds = ttl }, ct);
            var problem = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, problem?.ToJsonString());
            Assert.Equal(["ttl_seconds"], problem!["errors"]!.AsObject().Select(e => e.Key));
        }

        var delayed = await rig.SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "later" }, delay_seconds = 3600, ttl_seconds = 60 }, ct);
        var status = await rig.StatusAsync(delayed, ct);
        var runAt = DateTimeOffset.Parse((string)status["run_at"]!, CultureInfo.InvariantCulture);
        Assert.Equal(runAt.AddSeconds(60), DateTimeOffset.Parse((string)status["start_by"]!, CultureInfo.InvariantCulture));
    }

    private Task<ApiWorkerRig> StartAsync(string name, bool worker, CancellationToken ct) =>
        ApiWorkerRig.StartAsync(servers, name, worker, ct, new Dictionary<string, string?>
        {
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.050",
            [WebhookOptions.SecretEnvironmentVariable] = Secret,
        });
}
