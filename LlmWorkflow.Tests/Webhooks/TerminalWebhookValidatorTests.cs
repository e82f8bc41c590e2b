using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Contract;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>
/// Terminal bodies rendered from the finishing statement's snapshot, as a real worker delivers them, checked by
/// validators this team did not write: the <c>standardwebhooks</c> package verifies the signatures and ajv (strict)
/// validates each body against a JSON Schema written from docs/WEBHOOKS.md (clients/contract, verify-webhook-bodies.ts).
/// </summary>
public sealed class TerminalWebhookValidatorTests(TestServers servers) : IAsyncLifetime
{
    private const int MaxPayloadBytes = 4096;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private TestEnvironment _environment = null!;
    private WorkerHost _worker = null!;
    private WebhookReceiver _receiver = null!;

    private NpgsqlDataSource Database => _worker.Services.GetRequiredService<NpgsqlDataSource>();

    public async ValueTask InitializeAsync()
    {
        NodeScripts.RequireInstalled();
        _environment = await TestEnvironment.CreateAsync(servers, nameof(TerminalWebhookValidatorTests));
        _worker = await WorkerHost.StartAsync(_environment.Settings(new Dictionary<string, string?>
        {
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.050",
        }));
        _receiver = await WebhookReceiver.StartAsync("validator-secret-1");
    }

    [Fact]
    public async Task StandardWebhooksAndAjvAcceptCompletedFailedCancelledAndTruncatedBodies()
    {
        var big = new JsonObject
        {
            ["output"] = new JsonObject { ["text"] = new string('x', 2 * MaxPayloadBytes), ["note"] = "Olá <b>\"mundo\"</b> ✓" },
            ["cost_data"] = new JsonObject { ["provider"] = "mock", ["total_tokens"] = 7 },
        };
        var error = JsonNode.Parse("""
            {"type":"TimeoutError","category":"EXTERNAL_ERROR","message":"API request timed out","retryable":true,
             "retry_after":30,"step_id":"fetch_weather","details":{"service":"weatherapi","suggestions":["retry later"]},"suggestions":["retry later"]}
            """);
        var jobs = new (string Status, JsonNode? Result, JsonNode? Error, bool Truncated)[]
        {
            ("completed", FinishedJobs.SampleResult.DeepClone(), null, false),
            ("completed", big, null, true),
            ("failed", null, error, false),
            ("cancelled", null, null, false),
        };
        var expected = new Dictionary<string, bool>();
        foreach (var job in jobs)
        {
            var id = await FinishedJobs.FinishWithWebhookAsync(Database, _receiver.HookUrl, _receiver.Secret, job.Status, job.Result, job.Error, MaxPayloadBytes);
            expected[id.ToString()] = job.Truncated;
        }

        var requests = await _receiver.WaitForRequestsAsync(jobs.Length, Wait);

        var deliveries = new JsonArray([.. requests.Select(request => (JsonNode)new JsonObject
        {
            ["headers"] = new JsonObject([.. new[] { "webhook-id", "webhook-timestamp", "webhook-signature", "x-webhook-event" }
                .Select(name => KeyValuePair.Create(name, (JsonNode?)request.Header(name)))]),
            ["body"] = request.Body,
            ["expect_truncated"] = expected[(string)request.Json!["job_id"]!],
        })]);
        var file = Path.Combine(Path.GetTempPath(), $"terminal-webhooks-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, new JsonObject
        {
            ["secret"] = _receiver.Secret,
            ["max_payload_bytes"] = MaxPayloadBytes,
            ["deliveries"] = deliveries,
        }.ToJsonString(), TestContext.Current.CancellationToken);
        try
        {
            var text = await NodeScripts.RunAsync("tsx", [Path.Combine("scripts", "verify-webhook-bodies.ts")],
                new Dictionary<string, string> { ["WEBHOOK_DELIVERIES"] = file }, TimeSpan.FromMinutes(2));
            Assert.Contains($"verified {jobs.Length} terminal webhook bodies (1 truncated)", text, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        await _receiver.DisposeAsync();
    }
}
