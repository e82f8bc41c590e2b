using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// <c>wait_for_event</c> and <c>POST /api/v1/jobs/{id}/signals/{event}</c> on real servers: a waiting job is resumed by
/// its signal (the body is the step's output) within a second, its first LLM call not made again; a signal sent before
/// the run reaches its wait is kept and taken there; five clients signalling at once resume it once, and a repeated
/// Idempotency-Key adds nothing (with another body it is a 422 naming the header); a wait that times out goes on with its
/// default; a finished job answers 409, another tenant 404, a body over 64 KiB 413, a bad event name 400, an event the
/// workflow never waits for 422; a rerun of the wait takes only a signal its earlier attempt did not take.
/// </summary>
[IntegrationTest]
public sealed class SignalTests(TestServers servers) : IAsyncLifetime
{
    private const string OtherTenantKey = "other-tenant-key";
    private FakeOpenAiServer _llm = null!;
    private ApiFactory _api = null!;
    private WorkerHost _worker = null!;
    private HttpClient _client = null!;
    private string _postgres = null!;

    public async ValueTask InitializeAsync()
    {
        _llm = await FakeOpenAiServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(SignalTests));
        _postgres = environment.PostgresConnectionString;
        var settings = environment.Settings(PipelineTestWorkflows.Settings(_llm, new Dictionary<string, string?>
        {
            ["Worker:ReconcileInterval"] = ApiWorkerRig.SafetyNetOff,
            ["Auth:ApiKeys:2:Name"] = "other",
            ["Auth:ApiKeys:2:Key"] = OtherTenantKey,
            ["Auth:ApiKeys:2:Tenant"] = "other-app",
        }));
        _api = new ApiFactory(settings);
        _client = _api.CreateAuthenticatedClient();
        _worker = await WorkerHost.StartAsync(settings, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        _client.Dispose();
        await _api.DisposeAsync();
        await _llm.DisposeAsync();
    }

    [Fact]
    public async Task ASignalResumesTheWaitingJobAndItsBodyIsTheStepsOutput()
    {
        var ct = TestContext.Current.CancellationToken;
        var job = await SubmitAsync("llm_wait_llm", new { topic = "resume" }, ct);
        var waiting = await WaitForStatusAsync(job, "waiting", ct);
        Assert.Equal(("approve", "event", "approval"), ((string?)waiting["waiting_for"]!["step_id"], (string?)waiting["waiting_for"]!["kind"], (string?)waiting["waiting_for"]!["event"]));

        var (status, answer) = await SignalAsync(job, "approval", """{"approved": true, "comment": "ship it"}""", null, ct);
        var answeredAt = DateTimeOffset.UtcNow;
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("resumed", (string?)answer["status"]);

        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal("ship it", (string?)done["result"]!["output"]!["approval"]!["comment"]);
        var second = done["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == "second")!;
        var resumedAfter = DateTimeOffset.Parse((string)second["started_at"]!, CultureInfo.InvariantCulture) - answeredAt;
        // Only the signal's push can resume it in this time (the safety-net pass is off); generous for a loaded machine.
        Assert.True(resumedAfter < TimeSpan.FromSeconds(5), $"the step after the wait started {resumedAfter.TotalMilliseconds:F0} ms after the signal's 202");
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, "FIRST: draft about resume."));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, "SECOND: about resume, apply: ship it"));
    }

    [Fact]
    public async Task ASignalSentBeforeTheWaitIsKeptAndTakenThere()
    {
        var ct = TestContext.Current.CancellationToken;
        var release = new TaskCompletionSource();
        _llm.AnswerGate = release.Task;
        var job = await SubmitAsync("llm_wait_llm", new { topic = "early" }, ct);
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(PipelineTestWorkflows.CallsContaining(_llm, "FIRST: draft about early.") == 1), TimeSpan.FromSeconds(30));

        var (status, answer) = await SignalAsync(job, "approval", """{"comment": "early bird"}""", null, ct);
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("stored", (string?)answer["status"]);
        _llm.AnswerGate = Task.CompletedTask;
        release.SetResult();

        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal("early bird", (string?)done["result"]!["output"]!["approval"]!["comment"]);
        var inbox = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{job}/signals", ct);
        var signal = Assert.Single(inbox!["signals"]!.AsArray())!;
        Assert.Equal("approve", (string?)signal["taken_by_step"]);
    }

    [Fact]
    public async Task FiveClientsSignallingAtOnceResumeTheJobOnceAndARepeatedKeyAddsNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var job = await SubmitAsync("llm_wait_llm", new { topic = "race" }, ct);
        await WaitForStatusAsync(job, "waiting", ct);
        // The resumed run is held at its next LLM call, so the job cannot finish (and answer 409) while clients signal.
        var release = new TaskCompletionSource();
        _llm.AnswerGate = release.Task;

        var answers = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => SignalAsync(job, "approval", $$"""{"comment": "client {{i}}"}""", $"client-{i}", ct)));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a.Status));
        Assert.Equal(1, answers.Count(a => (string?)a.Answer["status"] == "resumed"));
        var (repeatStatus, repeat) = await SignalAsync(job, "approval", """{ "comment" : "client 0" }""", "client-0", ct);
        Assert.Equal(HttpStatusCode.OK, repeatStatus);
        Assert.Equal("duplicate", (string?)repeat["status"]);
        // The same key with another body is not a repeat of that request: refused naming the header, as submissions are.
        var (reusedStatus, reused) = await SignalAsync(job, "approval", """{"comment": "again"}""", "client-0", ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reusedStatus);
        Assert.Equal(("Idempotency-Key", "idempotency_key_conflict"), ((string?)reused["field"], (string?)reused["error"]));
        _llm.AnswerGate = Task.CompletedTask;
        release.SetResult();

        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, "SECOND: about race,"));
        var inbox = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{job}/signals", ct);
        Assert.Equal(5, inbox!["signals"]!.AsArray().Count);
        Assert.Single(inbox["signals"]!.AsArray(), s => s!["taken_by_step"] is not null);

        // A client that lost its answer retries after the job finished: the first answer again, not a 409.
        var (lateStatus, late) = await SignalAsync(job, "approval", """{"comment": "client 3"}""", "client-3", ct);
        Assert.Equal(HttpStatusCode.OK, lateStatus);
        Assert.Equal("duplicate", (string?)late["status"]);
        Assert.Equal((string?)answers[3].Answer["signal_id"], (string?)late["signal_id"]);
        Assert.Equal(HttpStatusCode.Conflict, (await SignalAsync(job, "approval", "{}", "client-new", ct)).Status);
    }

    [Fact]
    public async Task ARerunOfTheWaitTakesOnlyANewerSignalNeverTheOneItTookBefore()
    {
        var ct = TestContext.Current.CancellationToken;
        var job = await SubmitAsync("llm_wait_llm", new { topic = "rerun" }, ct);
        await WaitForStatusAsync(job, "waiting", ct);
        // The resumed run is held at its next LLM call, so the second signal is sent while the job still runs.
        var release = new TaskCompletionSource();
        _llm.AnswerGate = release.Task;
        Assert.Equal("resumed", (string?)(await SignalAsync(job, "approval", """{"comment": "one"}""", "one", ct)).Answer["status"]);
        Assert.Equal("stored", (string?)(await SignalAsync(job, "approval", """{"comment": "two"}""", "two", ct)).Answer["status"]);
        _llm.AnswerGate = Task.CompletedTask;
        release.SetResult();
        Assert.Equal("one", (string?)(await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), TimeSpan.FromSeconds(30), ct))["result"]!["output"]!["approval"]!["comment"]);

        // The rerun's wait takes the newer untaken signal, not the one its first attempt took.
        Assert.Equal("two", (string?)(await RerunAsync(job, "approve", ct))["result"]!["output"]!["approval"]!["comment"]);

        // With no untaken signal left, the next rerun waits until a new one comes.
        await RerunAsync(job, "approve", ct, expect: "waiting");
        Assert.Equal("resumed", (string?)(await SignalAsync(job, "approval", """{"comment": "three"}""", "three", ct)).Answer["status"]);
        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), TimeSpan.FromSeconds(30), ct);
        Assert.Equal("three", (string?)done["result"]!["output"]!["approval"]!["comment"]);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, "FIRST: draft about rerun."));
        Assert.Equal(3, PipelineTestWorkflows.CallsContaining(_llm, "SECOND: about rerun,"));
        var inbox = (await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{job}/signals", ct))!["signals"]!.AsArray();
        Assert.Equal(3, inbox.Count);
        Assert.All(inbox, s => Assert.Equal("approve", (string?)s!["taken_by_step"]));
        // The two an earlier attempt took are listed as superseded by the reruns; the one the last run took is not.
        Assert.Equal(["one", "two"], inbox.Where(s => s!["superseded_at"] is not null).Select(s => (string?)s!["idempotency_key"]));
    }

    private async Task<JsonObject> RerunAsync(string job, string fromStep, CancellationToken ct, string expect = "completed")
    {
        using var rerun = await _client.PostAsJsonAsync($"/api/v1/jobs/{job}/retry", new { from_step = fromStep }, ct);
        Assert.Equal(HttpStatusCode.Accepted, rerun.StatusCode);
        return expect == "waiting"
            ? await WaitForStatusAsync(job, "waiting", ct)
            : await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), TimeSpan.FromSeconds(30), ct);
    }

    [Fact]
    public async Task ARetriedSignalResumesAJobItsFirstRequestLeftWaiting()
    {
        var ct = TestContext.Current.CancellationToken;
        var job = await SubmitAsync("llm_wait_llm", new { topic = "cut off" }, ct);
        await WaitForStatusAsync(job, "waiting", ct);
        // What a request cut off between storing its signal and resuming the job would leave (an API killed mid-request
        // before the two were one statement): the signal in the inbox, the job still waiting.
        await TestSql.ExecuteAsync(_postgres, """
            INSERT INTO llm_job_signals (id, job_id, event, payload, idempotency_key, received_at)
            VALUES (gen_random_uuid(), @job, 'approval', '{"comment": "first try"}'::jsonb, 'cut-off', now())
            """, ct, ("job", Guid.Parse(job)));

        var (status, answer) = await SignalAsync(job, "approval", """{"comment": "first try"}""", "cut-off", ct);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("duplicate", (string?)answer["status"]);
        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal("first try", (string?)done["result"]!["output"]!["approval"]!["comment"]);
        Assert.Single((await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{job}/signals", ct))!["signals"]!.AsArray());
    }

    [Fact]
    public async Task ATimedOutWaitGoesOnWithItsDefaultAndBadSignalsAreRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        var job = await SubmitAsync("wait_briefly", new { }, ct);
        var done = await JobPolling.WaitForTerminalAsync(_client, StatusUrl(job), TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(false, (bool?)done["result"]!["output"]!["ping"]!["pong"]);

        Assert.Equal(HttpStatusCode.Conflict, (await SignalAsync(job, "ping", "{}", null, ct)).Status);

        var waiting = await SubmitAsync("llm_wait_llm", new { topic = "refusals" }, ct);
        await WaitForStatusAsync(waiting, "waiting", ct);
        using var other = _api.CreateClient();
        other.DefaultRequestHeaders.Add("X-API-Key", OtherTenantKey);
        using var foreign = await other.PostAsync($"/api/v1/jobs/{waiting}/signals/approval", Json("{}"), ct);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await SignalAsync(waiting, "approval", $$"""{"text": "{{new string('x', 70_000)}}"}""", null, ct)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await SignalAsync(waiting, "not ok!", "{}", null, ct)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await SignalAsync(waiting, "approval", "{not json", null, ct)).Status);
        // An event no step of the workflow waits for would never be taken: refused, naming the field and what it does wait for.
        var (notAwaitedStatus, notAwaited) = await SignalAsync(waiting, "shipped", "{}", null, ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, notAwaitedStatus);
        Assert.Equal(("event", "event_not_awaited"), ((string?)notAwaited["field"], (string?)notAwaited["error"]));
        Assert.Contains("approval", (string?)notAwaited["detail"], StringComparison.Ordinal);
        Assert.Equal("waiting", (string?)(await _client.GetFromJsonAsync<JsonObject>(StatusUrl(waiting), ct))!["status"]);
        Assert.Empty((await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{waiting}/signals", ct))!["signals"]!.AsArray());
    }

    private static string StatusUrl(string jobId) => $"/api/v1/status/{jobId}";

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private async Task<string> SubmitAsync(string workflow, object input, CancellationToken ct)
    {
        using var response = await _client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = workflow, input_data = input }, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["job_id"]!;
    }

    private async Task<(HttpStatusCode Status, JsonObject Answer)> SignalAsync(string jobId, string eventName, string body, string? idempotencyKey, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/jobs/{jobId}/signals/{Uri.EscapeDataString(eventName)}") { Content = Json(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await _client.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        return (response.StatusCode, text.Length > 0 && text.TrimStart().StartsWith('{') ? JsonNode.Parse(text)!.AsObject() : []);
    }

    private Task<JsonObject> WaitForStatusAsync(string jobId, string status, CancellationToken ct) =>
        JobPolling.WaitForStatusAsync(_client, StatusUrl(jobId), status, TimeSpan.FromSeconds(30), ct);
}
