using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Webhooks;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>
/// Per-job webhook secrets are encrypted at rest by the API and decrypted by a separate Worker host (own service
/// provider, same Postgres key ring); rows written in clear text before encryption still sign.
/// </summary>
public sealed class WebhookSecretEncryptionTests(TestServers servers) : IAsyncLifetime
{
    private const string JobSecret = "s3cret";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private ApiFactory _api = null!;
    private WorkerHost _worker = null!;
    private HttpClient _client = null!;

    private NpgsqlDataSource Database => _worker.Services.GetRequiredService<NpgsqlDataSource>();

    public async ValueTask InitializeAsync()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(WebhookSecretEncryptionTests));
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.050",
        });
        _api = new ApiFactory(settings);
        _client = _api.CreateAuthenticatedClient();
        _worker = await WorkerHost.StartAsync(settings);
    }

    [Fact]
    public async Task SubmittedSecretIsStoredEncryptedAndTheWorkerStillSignsWithIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await WebhookReceiver.StartAsync(JobSecret);

        var response = await _client.PostAsJsonAsync("/api/v1/workflow", new
        {
            workflow_name = "hello_transform",
            input_data = new { name = "Ada" },
            webhook_url = receiver.HookUrl,
            webhook_secret = JobSecret,
        }, ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobId = Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!);

        // The whole row as text, so the secret cannot hide in any column.
        await using (var command = Database.CreateCommand("SELECT j::text, j.webhook_secret FROM llm_workflow_jobs j WHERE j.id = $1"))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = jobId });
            await using var reader = await command.ExecuteReaderAsync(ct);
            Assert.True(await reader.ReadAsync(ct));
            Assert.DoesNotContain(JobSecret, reader.GetString(0), StringComparison.Ordinal);
            Assert.StartsWith(WebhookSecretProtector.Prefix, reader.GetString(1), StringComparison.Ordinal);
        }

        var request = Assert.Single(await receiver.WaitForRequestsAsync(1, Wait));
        Assert.Equal(VerificationResult.Valid, receiver.Verify(request));
        Assert.True(StandardWebhooksVerifier.VerifyLegacy(JobSecret, request.Header("X-Webhook-Signature"), Encoding.UTF8.GetBytes(request.Body)));
    }

    [Fact]
    public async Task LegacyClearTextSecretStillSigns()
    {
        await using var receiver = await WebhookReceiver.StartAsync(JobSecret);

        // Written as rows were before encryption: the secret in clear text, no prefix.
        var jobId = await FinishedJobs.CompleteWithWebhookAsync(Database, receiver.HookUrl, JobSecret);

        var request = Assert.Single(await receiver.WaitForRequestsAsync(1, Wait));
        Assert.Equal(VerificationResult.Valid, receiver.Verify(request));
        Assert.True(StandardWebhooksVerifier.VerifyLegacy(JobSecret, request.Header("X-Webhook-Signature"), Encoding.UTF8.GetBytes(request.Body)));
        await FinishedJobs.WaitForLatestStateAsync(Database, jobId, WebhookAttemptStates.Delivered, Wait);
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        _client.Dispose();
        await _api.DisposeAsync();
    }
}
