using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>The retry schedule lives in Postgres: a worker that is killed or stopped loses no delivery; another worker sends it.</summary>
[SystemTest]
public sealed class WebhookDurabilityTests(TestServers servers) : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private TestEnvironment _environment = null!;
    private NpgsqlDataSource _database = null!;
    private WebhookReceiver _receiver = null!;

    public async ValueTask InitializeAsync()
    {
        _environment = await TestEnvironment.CreateAsync(servers, nameof(WebhookDurabilityTests));
        _database = NpgsqlDataSource.Create(_environment.PostgresConnectionString);
        _receiver = await WebhookReceiver.StartAsync("durable-secret");
    }

    [Fact]
    public async Task WorkerKilledBetweenAttemptsDoesNotLoseTheRetry()
    {
        _receiver.Enqueue(new FakeResponse(500));
        Guid jobId;
        await using (var doomed = await WorkerProcess.StartAsync(Settings("doomed")))
        {
            jobId = await FinishedJobs.CompleteWithWebhookAsync(_database, _receiver.HookUrl, _receiver.Secret);
            await Eventually.TrueAsync(
                async () => (await FinishedJobs.AttemptsAsync(_database, jobId)).Count == 2, Wait, "the first attempt to fail and schedule the second");
            await doomed.KillAsync();
        }

        var waiting = await FinishedJobs.AttemptsAsync(_database, jobId);
        Assert.Equal([WebhookAttemptStates.Failed, WebhookAttemptStates.Pending], waiting.Select(a => a.State));
        Assert.Equal(1, _receiver.CallCount);

        await using var survivor = await WorkerHost.StartAsync(Settings("survivor"), TestContext.Current.CancellationToken);
        var attempts = await FinishedJobs.WaitForLatestStateAsync(_database, jobId, WebhookAttemptStates.Delivered, Wait);

        Assert.Equal([1, 2], attempts.Select(a => a.AttemptNumber));
        Assert.Equal(2, _receiver.CallCount);
        Assert.Single(_receiver.Requests.Select(r => r.Header("webhook-id")).Distinct());
    }

    [Fact]
    public async Task WorkerStoppedMidAttemptHandsTheAttemptBackAtOnce()
    {
        _receiver.Enqueue(FakeResponse.Hanging());
        Guid jobId;
        await using (var stopping = await WorkerHost.StartAsync(Settings("stopping"), TestContext.Current.CancellationToken))
        {
            jobId = await FinishedJobs.CompleteWithWebhookAsync(_database, _receiver.HookUrl, _receiver.Secret);
            await _receiver.WaitForRequestsAsync(1, Wait);
        }

        var released = Assert.Single(await FinishedJobs.AttemptsAsync(_database, jobId));
        Assert.Equal(WebhookAttemptStates.Pending, released.State);
        Assert.True(released.NextRetryAt <= DateTimeOffset.UtcNow, $"released attempt is due at {released.NextRetryAt}, not now");

        // Without the hand-back the claim would only lapse after the timeout plus a 30 s margin.
        await using var next = await WorkerHost.StartAsync(Settings("next"), TestContext.Current.CancellationToken);
        var attempt = Assert.Single(await FinishedJobs.WaitForLatestStateAsync(_database, jobId, WebhookAttemptStates.Delivered, Wait));

        Assert.Equal(1, attempt.AttemptNumber);
        Assert.Equal(2, _receiver.CallCount);
    }

    public async ValueTask DisposeAsync()
    {
        await _receiver.DisposeAsync();
        await _database.DisposeAsync();
    }

    private Dictionary<string, string?> Settings(string workerId) => _environment.Settings(new Dictionary<string, string?>
    {
        ["Worker:Id"] = workerId,
        ["Webhooks:AllowPrivateNetworks"] = "true",
        ["Webhooks:RetryDelays:0"] = "00:00:03",
        ["Webhooks:PollInterval"] = "00:00:00.050",
        ["Webhooks:Timeout"] = "00:00:10",
    });
}
