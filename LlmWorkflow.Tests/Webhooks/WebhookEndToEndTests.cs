using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Worker.Webhooks;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>API → worker → webhook: a submitted job's receiver gets signed events it can verify.</summary>
[IntegrationTest]
public sealed class WebhookEndToEndTests(TestServers servers) : IAsyncLifetime
{
    // A Standard Webhooks secret as the service-wide one, with a plain secret being rotated out.
    private const string ServiceSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string PreviousSecret = "previous-plain-secret";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private ApiFactory _api = null!;
    private WorkerHost _worker = null!;
    private HttpClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(WebhookEndToEndTests));
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.050",
            ["Webhooks:PreviousSecrets:0"] = PreviousSecret,
            [WebhookOptions.SecretEnvironmentVariable] = ServiceSecret,
        });
        _api = new ApiFactory(settings);
        _client = _api.CreateAuthenticatedClient();
        _worker = await WorkerHost.StartAsync(settings);
    }

    [Fact]
    public async Task SubmittedJobSendsSignedStepAndCompletedEvents()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await WebhookReceiver.StartAsync(ServiceSecret);

        var jobId = await SubmitAsync(new
        {
            workflow_name = "hello_transform",
            input_data = new { name = "Ada" },
            user_id = "user-7",
            username = "ada",
            action = "greet",
            webhook_url = receiver.HookUrl,
            webhook_events = new[] { WebhookEventTypes.StepCompleted },
        });

        var requests = await receiver.WaitForRequestsAsync(2, Wait);
        var completed = Assert.Single(requests, r => r.Header("X-Webhook-Event") == WebhookEventTypes.Completed);
        var step = Assert.Single(requests, r => r.Header("X-Webhook-Event") == WebhookEventTypes.StepCompleted);

        var body = completed.Json!;
        Assert.Equal("workflow.completed", (string?)body["event"]);
        Assert.Equal(jobId, (string?)body["job_id"]);
        Assert.Equal("completed", (string?)body["status"]);
        Assert.Equal("hello_transform", (string?)body["workflow_name"]);
        Assert.Equal("user-7", (string?)body["user_id"]);
        Assert.Equal("Hello, Ada!", (string?)body["result"]?["output"]?["greeting"]);
        Assert.NotNull(body["result"]?["cost_data"]);
        Assert.Equal("ada", (string?)body["metadata"]?["username"]);
        Assert.Equal("greet", (string?)body["metadata"]?["action"]);
        Assert.Equal("greet", (string?)step.Json!["step"]?["step_id"]);

        Assert.Equal("application/json; charset=utf-8", completed.Header("Content-Type"));
        Assert.StartsWith("LlmWorkflow/", completed.Header("User-Agent"), StringComparison.Ordinal);
        Assert.NotEqual(completed.Header("webhook-id"), step.Header("webhook-id"));
        var bytes = Encoding.UTF8.GetBytes(completed.Body);
        Assert.True(StandardWebhooksVerifier.VerifyLegacy(ServiceSecret, completed.Header("X-Webhook-Signature"), bytes));
        Assert.Equal(2, completed.Header("webhook-signature")!.Split(' ').Length);
        Assert.All(requests, r => Assert.Equal(VerificationResult.Valid, receiver.Verify(r)));
        Assert.Equal(VerificationResult.Valid, StandardWebhooksVerifier.Verify(
            PreviousSecret, completed.Header("webhook-id"), completed.Header("webhook-timestamp"), completed.Header("webhook-signature"), bytes, DateTimeOffset.UtcNow));

        using var admin = _api.CreateAuthenticatedClient(admin: true);
        await Eventually.TrueAsync(async () =>
        {
            var attempts = await admin.GetFromJsonAsync<JsonArray>($"/api/v1/admin/webhooks/{jobId}", ct);
            return attempts!.Count == 2 && attempts.All(a => (string?)a!["state"] == WebhookAttemptStates.Delivered);
        }, Wait, "both attempts to be recorded as delivered");
    }

    [Fact]
    public async Task JobSecretSignsInsteadOfTheServiceSecret()
    {
        await using var receiver = await WebhookReceiver.StartAsync("per-job-secret");

        await SubmitAsync(new
        {
            workflow_name = "hello_transform",
            input_data = new { name = "Grace" },
            webhook_url = receiver.HookUrl,
            webhook_secret = receiver.Secret,
        });

        var request = Assert.Single(await receiver.WaitForRequestsAsync(1, Wait));
        Assert.Equal(VerificationResult.Valid, receiver.Verify(request));
        Assert.Single(request.Header("webhook-signature")!.Split(' '));
        Assert.True(StandardWebhooksVerifier.VerifyLegacy(receiver.Secret, request.Header("X-Webhook-Signature"), Encoding.UTF8.GetBytes(request.Body)));
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        _client.Dispose();
        await _api.DisposeAsync();
    }

    private async Task<string> SubmitAsync(object submission)
    {
        var response = await _client.PostAsJsonAsync("/api/v1/workflow", submission, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        return (string)accepted!["job_id"]!;
    }
}
