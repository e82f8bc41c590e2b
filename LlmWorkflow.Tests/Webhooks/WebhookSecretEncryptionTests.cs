using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>
/// Per-job webhook secrets are encrypted at rest by the API and decrypted by a separate Worker host (own service
/// provider, same Postgres key ring); rows written in clear text before encryption still sign.
/// </summary>
[IntegrationTest]
public sealed class WebhookSecretEncryptionTests(TestServers servers) : IAsyncLifetime
{
    private const string JobSecret = "s3cret";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly CapturingLoggerProvider _apiLogs = new();
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
        var api = _api.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(_apiLogs)));
        _client = api.CreateClient();
        _client.DefaultRequestHeaders.Add("X-API-Key", TestEnvironment.CallerKey);
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

    [Fact]
    public async Task FreshApiStartLogsNoWarningFromDataProtection()
    {
        // The first submission with a secret makes Data Protection create (or load) its key ring.
        var response = await _client.PostAsJsonAsync("/api/v1/workflow", new
        {
            workflow_name = "hello_transform",
            input_data = new { name = "Ada" },
            webhook_url = "http://127.0.0.1:9/hooks",
            webhook_secret = JobSecret,
        }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        // Without a certificate the key XML is stored unencrypted by explicit choice (NullXmlEncryptor, docs/SECURITY.md),
        // so Data Protection has nothing to warn about ("No XML encryptor configured" was its warning).
        await using var keys = Database.CreateCommand("SELECT count(*) FROM llm_data_protection_keys");
        Assert.True((long)(await keys.ExecuteScalarAsync(TestContext.Current.CancellationToken))! >= 1);
        Assert.DoesNotContain(_apiLogs.Lines, l => l.Category.StartsWith("Microsoft.AspNetCore.DataProtection", StringComparison.Ordinal) && l.Level >= LogLevel.Warning);
        Assert.DoesNotContain(_apiLogs.Lines, l => l.Level >= LogLevel.Error);
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        _client.Dispose();
        await _api.DisposeAsync();
    }
}

/// <summary>Keeps every log line of a host with its category and level.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<CapturedLogLine> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, Lines);

    public void Dispose()
    {
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<CapturedLogLine> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue(new CapturedLogLine(category, logLevel, formatter(state, exception)));
    }
}

internal sealed record CapturedLogLine(string Category, LogLevel Level, string Message);
