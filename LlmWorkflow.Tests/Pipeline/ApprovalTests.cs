using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// <c>approval</c> steps and decision links on real servers: a job parks <c>waiting</c> after its LLM draft, its
/// receiver gets a signed <c>workflow.waiting</c> with the links, the page (no API key) shows the draft rendered and the
/// costs, and a POST decides once: the decision is the step's output and the job completes. A second use of any link
/// of that wait is refused (409), an expired link 410, a tampered one 404; a decision through the API (the dashboard's
/// way) is the same output with its decided_by.
/// </summary>
[IntegrationTest]
public sealed class ApprovalTests(TestServers servers) : IAsyncLifetime
{
    private const string Secret = "approval-webhook-secret";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private FakeOpenAiServer _llm = null!;
    private WebhookReceiver _receiver = null!;
    private ApiFactory _api = null!;
    private WorkerHost _worker = null!;
    private HttpClient _client = null!;
    private HttpClient _anonymous = null!;

    public async ValueTask InitializeAsync()
    {
        _llm = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { Chunks = ["# Launch notes\n\nWe ship **on Friday**.", " <script>alert(1)</script>"] });
        _receiver = await WebhookReceiver.StartAsync(Secret);
        var settings = (await TestEnvironment.CreateAsync(servers, nameof(ApprovalTests))).Settings(PipelineTestWorkflows.Settings(_llm, new Dictionary<string, string?>
        {
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.050",
            [WebhookOptions.SecretEnvironmentVariable] = Secret,
            ["Approvals:PublicBaseUrl"] = "http://localhost",
        }));
        _api = new ApiFactory(settings);
        _client = _api.CreateAuthenticatedClient();
        _anonymous = _api.CreateClient();
        _worker = await WorkerHost.StartAsync(settings, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        _anonymous.Dispose();
        _client.Dispose();
        await _api.DisposeAsync();
        await _receiver.DisposeAsync();
        await _llm.DisposeAsync();
    }

    [Fact]
    public async Task ALinkShowsTheDraftAndCostsAndItsApprovalCompletesTheJobOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var job = await SubmitAsync("llm_approval_llm", new { topic = "launch" }, ct);
        var waiting = await JobPolling.WaitForStatusAsync(_client, StatusUrl(job), "waiting", Wait, ct);
        var waitingFor = waiting["waiting_for"]!;
        Assert.Equal(("review", "approval", "approval"), ((string?)waitingFor["step_id"], (string?)waitingFor["kind"], (string?)waitingFor["event"]));
        Assert.Equal("Publish the draft about launch?", (string?)waitingFor["prompt"]);

        var hooks = await _receiver.WaitForRequestsAsync(1, Wait);
        var hook = Assert.Single(hooks, r => r.Header("X-Webhook-Event") == "workflow.waiting");
        Assert.Equal(VerificationResult.Valid, _receiver.Verify(hook));
        var body = hook.Json!;
        Assert.Equal(("workflow.waiting", job, "waiting"), ((string?)body["event"], (string?)body["job_id"], (string?)body["status"]));
        var hookWait = body["waiting_for"]!;
        Assert.Equal("approval", (string?)hookWait["kind"]);
        var decisionUrl = (string)hookWait["decision_url"]!;
        Assert.StartsWith("http://localhost/approvals/", decisionUrl, StringComparison.Ordinal);
        Assert.Equal(decisionUrl + "?decision=approve", (string?)hookWait["approve_url"]);
        Assert.Equal(decisionUrl + "?decision=reject", (string?)hookWait["reject_url"]);
        await AssertRunWaitingEventCarriesTheLinksAsync(job, ct);

        using var page = await _anonymous.GetAsync(PathOf((string)hookWait["approve_url"]!), ct);
        var html = await page.Content.ReadAsStringAsync(ct);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.True(page.Headers.CacheControl?.NoStore, "the page must not be cached");
        Assert.Contains("default-src 'none'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Contains("<strong>on Friday</strong>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;", html, StringComparison.Ordinal);
        Assert.Contains("Publish the draft about launch?", html, StringComparison.Ordinal);
        // The draft's call: 12 input and 4 output tokens of gpt-4o-mini; the rest, one call of up to 500 output tokens.
        var paid = waiting["steps"]!.AsArray().Sum(s => (decimal?)s!["cost_usd"] ?? 0m);
        Assert.True(paid > 0m, "the draft's cost is recorded");
        Assert.Contains($"Cost so far</th><td>${paid.ToString("0.00####", System.Globalization.CultureInfo.InvariantCulture)}<", html, StringComparison.Ordinal);
        Assert.Matches(@"Estimated cost of the rest</th><td>\$0\.0\d*[1-9]", html);
        Assert.Contains("value=\"approve\" class=\"approve chosen\" autofocus", html, StringComparison.Ordinal);

        var (status, answer) = await DecideAsync(decisionUrl, "approve", "ship it", ct);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Approved", answer, StringComparison.Ordinal);

        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), Wait, ct);
        Assert.Equal("completed", (string?)done["status"]);
        var decision = done["result"]!["output"]!["decision"]!;
        Assert.Equal((true, "ship it", "link"), ((bool?)decision["approved"], (string?)decision["comment"], (string?)decision["decided_by"]));
        Assert.NotNull((string?)decision["decided_at"]);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, "DRAFT: about launch."));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, "PUBLISH: launch."));

        // Single use: this link again, and the status's link of the same wait, are refused; nothing resumes twice.
        Assert.Equal(HttpStatusCode.Conflict, (await DecideAsync(decisionUrl, "reject", null, ct)).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await DecideAsync((string)waitingFor["decision_url"]!, "approve", null, ct)).Status);
        using var again = await _anonymous.GetAsync(PathOf(decisionUrl), ct);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        var inbox = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{job}/signals", ct);
        Assert.Single(inbox!["signals"]!.AsArray());
    }

    [Theory]
    [InlineData("draft")]
    [InlineData("review")]
    public async Task ARerunAtOrBeforeTheApprovalAsksAgainWithNewLinks(string fromStep)
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = "rerun from " + fromStep;
        var job = await SubmitAsync("llm_approval_llm", new { topic }, ct);
        var first = await JobPolling.WaitForStatusAsync(_client, StatusUrl(job), "waiting", Wait, ct);
        var firstLink = (string)first["waiting_for"]!["decision_url"]!;
        Assert.Equal(HttpStatusCode.OK, (await DecideAsync(firstLink, "approve", "first look", ct)).Status);
        Assert.Equal("completed", (string?)(await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), Wait, ct))["status"]);

        using var rerun = await _client.PostAsJsonAsync($"/api/v1/jobs/{job}/retry", new { from_step = fromStep }, ct);
        Assert.Equal(HttpStatusCode.Accepted, rerun.StatusCode);

        // The rerun waits for a new decision with new links; the first decision neither finishes it nor pays publish again.
        var again = await JobPolling.WaitForStatusAsync(_client, StatusUrl(job), "waiting", Wait, ct);
        var secondLink = (string)again["waiting_for"]!["decision_url"]!;
        Assert.NotEqual(firstLink, secondLink);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, $"PUBLISH: {topic}."));
        Assert.Equal(fromStep == "draft" ? 2 : 1, PipelineTestWorkflows.CallsContaining(_llm, $"DRAFT: about {topic}."));
        Assert.Equal(HttpStatusCode.Conflict, (await DecideAsync(firstLink, "approve", null, ct)).Status);

        Assert.Equal(HttpStatusCode.OK, (await DecideAsync(secondLink, "reject", "second look", ct)).Status);
        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), Wait, ct);
        Assert.Equal("completed", (string?)done["status"]);
        var decision = done["result"]!["output"]!["decision"]!;
        Assert.Equal((false, "second look"), ((bool?)decision["approved"], (string?)decision["comment"]));
        Assert.Equal(2, PipelineTestWorkflows.CallsContaining(_llm, $"PUBLISH: {topic}."));
    }

    [Fact]
    public async Task ARejectionThroughTheLinkIsTheStepsOutput()
    {
        var ct = TestContext.Current.CancellationToken;
        var job = await SubmitAsync("llm_approval_llm", new { topic = "reject" }, ct);
        var waiting = await JobPolling.WaitForStatusAsync(_client, StatusUrl(job), "waiting", Wait, ct);

        var (status, answer) = await DecideAsync((string)waiting["waiting_for"]!["reject_url"]!, "reject", "not yet", ct);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Rejected", answer, StringComparison.Ordinal);

        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), Wait, ct);
        var decision = done["result"]!["output"]!["decision"]!;
        Assert.Equal((false, "not yet", "link"), ((bool?)decision["approved"], (string?)decision["comment"], (string?)decision["decided_by"]));
    }

    [Fact]
    public async Task ADecisionThroughTheApiIsTheSameOutputAndTheLinkIsThenRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        var job = await SubmitAsync("llm_approval_llm", new { topic = "dashboard" }, ct);
        var waiting = await JobPolling.WaitForStatusAsync(_client, StatusUrl(job), "waiting", Wait, ct);

        using var signal = await _client.PostAsJsonAsync($"/api/v1/jobs/{job}/signals/approval", new { approved = true, comment = "ok", decided_by = "dashboard" }, ct);
        Assert.Equal(HttpStatusCode.Accepted, signal.StatusCode);
        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), Wait, ct);
        var decision = done["result"]!["output"]!["decision"]!;
        Assert.Equal((true, "ok", "dashboard"), ((bool?)decision["approved"], (string?)decision["comment"], (string?)decision["decided_by"]));

        Assert.Equal(HttpStatusCode.Conflict, (await DecideAsync((string)waiting["waiting_for"]!["decision_url"]!, "approve", null, ct)).Status);
    }

    [Fact]
    public async Task AnExpiredLinkIsRefusedWithGone()
    {
        var ct = TestContext.Current.CancellationToken;
        var job = await SubmitAsync("approval_briefly", new { }, ct);
        var waiting = await JobPolling.WaitForStatusAsync(_client, StatusUrl(job), "waiting", Wait, ct);
        var link = (string)waiting["waiting_for"]!["decision_url"]!;

        // The link lives as long as the wait: two seconds; the job then goes on with its default.
        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), Wait, ct);
        Assert.Equal((false, "timed out"), ((bool?)done["result"]!["output"]!["decision"]!["approved"], (string?)done["result"]!["output"]!["decision"]!["comment"]));

        using var page = await _anonymous.GetAsync(PathOf(link), ct);
        Assert.Equal(HttpStatusCode.Gone, page.StatusCode);
        Assert.Equal(HttpStatusCode.Gone, (await DecideAsync(link, "approve", null, ct)).Status);
    }

    [Fact]
    public async Task ATamperedOrMadeUpLinkRevealsNothingAndABadFormIsRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        var job = await SubmitAsync("llm_approval_llm", new { topic = "tamper" }, ct);
        var waiting = await JobPolling.WaitForStatusAsync(_client, StatusUrl(job), "waiting", Wait, ct);
        var link = PathOf((string)waiting["waiting_for"]!["decision_url"]!);
        var token = link["/approvals/".Length..];
        var tampered = "/approvals/" + token[..10] + (token[10] == 'A' ? 'B' : 'A') + token[11..];

        foreach (var bad in new[] { tampered, "/approvals/" + token[..^4], "/approvals/not-a-token" })
        {
            using var page = await _anonymous.GetAsync(bad, ct);
            var html = await page.Content.ReadAsStringAsync(ct);
            Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
            Assert.DoesNotContain("tamper", html, StringComparison.Ordinal);
            Assert.DoesNotContain(job, html, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.NotFound, (await DecideAsync(bad, "approve", null, ct)).Status);
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await DecideAsync(link, "maybe", null, ct)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await DecideAsync(link, "approve", new string('x', 2001), ct)).Status);
        Assert.Equal("waiting", (string?)(await _client.GetFromJsonAsync<JsonObject>(StatusUrl(job), ct))!["status"]);
    }

    private static string StatusUrl(string jobId) => $"/api/v1/status/{jobId}";

    /// <summary>The link's path and query, for the in-memory test server (the links name the configured public address).</summary>
    private static string PathOf(string url) => Uri.TryCreate(url, UriKind.Absolute, out var absolute) ? absolute.PathAndQuery : url;

    private async Task<(HttpStatusCode Status, string Html)> DecideAsync(string url, string decision, string? comment, CancellationToken ct)
    {
        var fields = new Dictionary<string, string> { ["decision"] = decision };
        if (comment is not null)
        {
            fields["comment"] = comment;
        }

        using var response = await _anonymous.PostAsync(PathOf(url), new FormUrlEncodedContent(fields), ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
    }

    /// <summary>
    /// The job's <c>run_waiting</c> live event names the approval's prompt and carries decision links of the same wait
    /// (the webhook's, with the same expiry), so a main app that watches the stream need not poll for them.
    /// </summary>
    private async Task AssertRunWaitingEventCarriesTheLinksAsync(string job, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(Wait);
        using var events = await _client.GetAsync($"/api/v1/jobs/{job}/events", HttpCompletionOption.ResponseHeadersRead, stop.Token);
        JsonNode? waiting = null;
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(await events.Content.ReadAsStreamAsync(stop.Token)).EnumerateAsync(stop.Token))
        {
            if (item.EventType == "run_waiting")
            {
                waiting = JsonNode.Parse(item.Data);
                break;
            }
        }

        Assert.NotNull(waiting);
        Assert.Equal(("review", "approval", "Publish the draft about launch?"), ((string?)waiting["step_id"], (string?)waiting["kind"], (string?)waiting["prompt"]));
        var decisionUrl = (string)waiting["decision_url"]!;
        Assert.StartsWith("http://localhost/approvals/", decisionUrl, StringComparison.Ordinal);
        Assert.Equal((decisionUrl + "?decision=approve", decisionUrl + "?decision=reject"), ((string?)waiting["approve_url"], (string?)waiting["reject_url"]));
        Assert.Equal((string?)waiting["until"], (string?)waiting["links_expire_at"]);
        using var page = await _anonymous.GetAsync(PathOf(decisionUrl), ct);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    private async Task<string> SubmitAsync(string workflow, object input, CancellationToken ct)
    {
        using var response = await _client.PostAsJsonAsync("/api/v1/workflow", new
        {
            workflow_name = workflow,
            input_data = input,
            webhook_url = _receiver.HookUrl,
            webhook_events = new[] { "workflow.waiting" },
        }, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["job_id"]!;
    }
}
