using System.Text.Json.Nodes;
using System.Net.Http.Json;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Tests.Contract;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Pipeline;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>
/// Terminal bodies rendered from the finishing statement's snapshot, as a real worker delivers them, checked by
/// validators this team did not write: the <c>standardwebhooks</c> package verifies the signatures and ajv (strict)
/// validates each body against a JSON Schema written from docs/WEBHOOKS.md (clients/contract, verify-webhook-bodies.ts).
/// </summary>
[SystemTest]
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

        var text = await VerifyWithNodeAsync(requests, _receiver.Secret, request => expected[(string)request.Json!["job_id"]!]);
        Assert.Contains($"verified {jobs.Length} terminal webhook bodies (1 truncated)", text, StringComparison.Ordinal);
    }

    /// <summary>
    /// A real <c>workflow.waiting</c> delivery — an approval job parked by a worker after its LLM draft — verified by the
    /// standardwebhooks package and validated against schemas/waiting-webhook.schema.json (written from docs/WEBHOOKS.md).
    /// </summary>
    [Fact]
    public async Task StandardWebhooksAndAjvAcceptARealWaitingDeliveryWithItsDecisionLinks()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        await using var receiver = await WebhookReceiver.StartAsync("validator-secret-2");
        // An environment of its own: the class's worker runs the repository's workflows, not the pipeline test ones.
        var environment = await TestEnvironment.CreateAsync(servers, nameof(StandardWebhooksAndAjvAcceptARealWaitingDeliveryWithItsDecisionLinks));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
        {
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.050",
            [WebhookOptions.SecretEnvironmentVariable] = receiver.Secret,
            ["Approvals:PublicBaseUrl"] = "https://llm.example.com",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);
        using var submitted = await client.PostAsJsonAsync("/api/v1/workflow", new
        {
            workflow_name = "llm_approval_llm",
            input_data = new { topic = "validator" },
            webhook_url = receiver.HookUrl,
            webhook_events = new[] { "workflow.waiting" },
        }, ct);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, submitted.StatusCode);

        var requests = await receiver.WaitForRequestsAsync(1, Wait);
        var waiting = Assert.Single(requests);
        Assert.Equal("workflow.waiting", waiting.Header("X-Webhook-Event"));
        Assert.StartsWith("https://llm.example.com/approvals/", (string?)waiting.Json!["waiting_for"]!["decision_url"], StringComparison.Ordinal);
        var text = await VerifyWithNodeAsync(requests, receiver.Secret, _ => false);
        Assert.Contains("verified 0 terminal webhook bodies (0 truncated) and 1 workflow.waiting bodies", text, StringComparison.Ordinal);
    }

    /// <summary>Hands the deliveries, as received, to clients/contract/scripts/verify-webhook-bodies.ts; returns what it printed.</summary>
    private static async Task<string> VerifyWithNodeAsync(IEnumerable<RecordedRequest> requests, string secret, Func<RecordedRequest, bool> expectTruncated)
    {
        var deliveries = new JsonArray([.. requests.Select(request => (JsonNode)new JsonObject
        {
            ["headers"] = new JsonObject([.. new[] { "webhook-id", "webhook-timestamp", "webhook-signature", "x-webhook-event" }
                .Select(name => KeyValuePair.Create(name, (JsonNode?)request.Header(name)))]),
            ["body"] = request.Body,
            ["expect_truncated"] = expectTruncated(request),
        })]);
        var file = Path.Combine(Path.GetTempPath(), $"webhooks-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, new JsonObject
        {
            ["secret"] = secret,
            ["max_payload_bytes"] = MaxPayloadBytes,
            ["deliveries"] = deliveries,
        }.ToJsonString(), TestContext.Current.CancellationToken);
        try
        {
            return await NodeScripts.RunAsync("tsx", [Path.Combine("scripts", "verify-webhook-bodies.ts")],
                new Dictionary<string, string> { ["WEBHOOK_DELIVERIES"] = file }, TimeSpan.FromMinutes(2));
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
