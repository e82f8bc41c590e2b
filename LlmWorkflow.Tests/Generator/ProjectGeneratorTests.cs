using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using CsvHelper;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Generator;

/// <summary>
/// Document 004's project generator on the real pipeline (API, worker, PostgreSQL, Redis; every model answered by the
/// mock with workflows/mock-responses/generate_project.json): a start answers 202 and a repeated one 200 with the same
/// run_id; the stream carries 004's events in order and resumes after Last-Event-ID; the status is the proj.v1 document
/// with every section; the CSV run log has a row per event with the owner's e-mail redacted; MODEL_PRIMARY picks the
/// model; another tenant sees none of it.
/// </summary>
[IntegrationTest]
public sealed class ProjectGeneratorTests(TestServers servers) : IAsyncLifetime
{
    private const string OtherTenantKey = "generator-other-tenant";
    private const string OwnerEmail = "teacher@school.ae";
    private GeneratorPipeline _pipeline = null!;

    private HttpClient Client => _pipeline.Client;

    private string CsvDirectory => _pipeline.CsvDirectory;

    public async ValueTask InitializeAsync() => _pipeline = await GeneratorPipeline.StartAsync(servers, nameof(ProjectGeneratorTests), new Dictionary<string, string?>
    {
        ["MODEL_PRIMARY"] = "openai/gpt-4o-mini",
        ["Auth:ApiKeys:2:Name"] = "other",
        ["Auth:ApiKeys:2:Key"] = OtherTenantKey,
        ["Auth:ApiKeys:2:Tenant"] = "other-app",
    });

    public ValueTask DisposeAsync() => _pipeline.DisposeAsync();

    [Fact]
    public async Task ARunStartsOnceStreamsFourOhFoursEventsAndServesEverySectionInProjV1()
    {
        var ct = TestContext.Current.CancellationToken;
        var projectId = "proj-" + Guid.NewGuid().ToString("N")[..8];
        using var first = await StartAsync(Client, projectId, "chat_456", ct);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var runId = (string)(await first.Content.ReadFromJsonAsync<JsonObject>(ct))!["run_id"]!;
        using var again = await StartAsync(Client, projectId, "chat_456", ct);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(runId, (string?)(await again.Content.ReadFromJsonAsync<JsonObject>(ct))!["run_id"]);

        var events = await StreamAsync(Client, runId, null, ct);
        Assert.Equal(
            ["run_started", "section_started", "section_completed", "section_started", "section_completed", "section_started", "section_completed", "run_completed"],
            events.Select(e => e.EventType));
        Assert.Equal(["sec_01", "sec_02", "sec_03"], events.Where(e => e.EventType == "section_completed").Select(e => (string?)JsonNode.Parse(e.Data)!["section_id"]));
        Assert.All(events, e => Assert.Equal(runId, (string?)JsonNode.Parse(e.Data)!["run_id"]));

        // Resuming after the second section's completion replays only what came after it; after the end, 204.
        var resumed = await StreamAsync(Client, runId, events[4].EventId, ct);
        Assert.Equal(events.Skip(5).Select(e => e.EventId), resumed.Select(e => e.EventId));
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/generator/events/stream?run_id={runId}"))
        {
            request.Headers.Add("Last-Event-ID", events[^1].EventId);
            using var ended = await Client.SendAsync(request, ct);
            Assert.Equal(HttpStatusCode.NoContent, ended.StatusCode);
        }

        var document = await Client.GetFromJsonAsync<JsonObject>($"/generator/status/{projectId}", ct);
        Assert.Equal("proj.v1", (string?)document!["schema_version"]);
        Assert.Equal(runId, (string?)document["run_id"]);
        Assert.Equal("chat_456", (string?)document["chat_id"]);
        Assert.Equal("complete", (string?)document["status"]);
        Assert.Equal("6-8", (string?)document["meta"]!["grade_band"]);
        Assert.Equal(OwnerEmail, (string?)document["meta"]!["owner_email"]);
        Assert.Equal(3, document["plan"]!["sections"]!.AsArray().Count);
        Assert.Equal(["sec_01", "sec_02", "sec_03"], document["sections"]!.AsObject().Select(s => s.Key));
        Assert.All(document["sections"]!.AsObject(), s => Assert.Equal(["1", "2", "3"], s.Value!["seats"]!.AsObject().Select(seat => seat.Key)));
        Assert.True((bool)document["validator"]!["ok"]!);

        // MODEL_PRIMARY: every llm step of the run was asked of that model.
        var job = await Client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{runId}", ct);
        var llmSteps = job!["steps"]!.AsArray().Select(s => (string?)s!["model"]).Where(m => m is not null).ToList();
        Assert.Equal(5, llmSteps.Count);
        Assert.All(llmSteps, model => Assert.Contains("gpt-4o-mini", model, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheCsvRunLogHasARowPerEventWithTheEmailRedacted()
    {
        var ct = TestContext.Current.CancellationToken;
        var projectId = "proj-" + Guid.NewGuid().ToString("N")[..8];
        using var started = await StartAsync(Client, projectId, "chat-csv", ct, title: $"Ask {OwnerEmail} for the price cards");
        var runId = (string)(await started.Content.ReadFromJsonAsync<JsonObject>(ct))!["run_id"]!;
        var done = await JobPolling.WaitForTerminalAsync(Client, $"/api/v1/jobs/{runId}", TimeSpan.FromSeconds(60), ct);
        Assert.Equal("completed", (string?)done["status"]);

        var path = Path.Combine(CsvDirectory, runId + ".csv");
        var rows = await RowsWhenEndedAsync(path, ct);
        Assert.Equal(
            ["timestamp", "run_id", "stage", "model", "temperature", "prompt_tokens", "completion_tokens", "cost_est", "decision_summary", "input_path", "output_path", "warning"],
            rows[0].Keys);
        Assert.All(rows, row => Assert.Equal(runId, row["run_id"]));
        var stages = rows.Select(r => r["stage"]).ToList();
        Assert.Equal("run_started", stages[0]);
        Assert.Equal("run_completed", stages[^1]);
        Assert.Equal(3, stages.Count(s => s == "section_completed"));
        Assert.Equal(5, stages.Count(s => s == "llm_call"));
        Assert.Contains("plan_completed", stages);
        var plan = rows.Single(r => r["stage"] == "plan_completed");
        Assert.True(int.Parse(plan["prompt_tokens"], CultureInfo.InvariantCulture) > 0);

        // The title (with the e-mail) is in the plan's prompt: the prompt file has it redacted, like every file of the run.
        var prompt = await File.ReadAllTextAsync(Path.Combine(CsvDirectory, plan["input_path"]), ct);
        Assert.Contains("[REDACTED_EMAIL] for the price cards", prompt, StringComparison.Ordinal);
        foreach (var file in Directory.EnumerateFiles(CsvDirectory, "*", SearchOption.AllDirectories).Where(f => f.Contains(runId, StringComparison.Ordinal)))
        {
            Assert.DoesNotContain(OwnerEmail, await File.ReadAllTextAsync(file, ct), StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task AnotherTenantSeesNeitherTheRunNorTheProjectAndStartsItsOwn()
    {
        var ct = TestContext.Current.CancellationToken;
        var projectId = "proj-" + Guid.NewGuid().ToString("N")[..8];
        using var started = await StartAsync(Client, projectId, "chat-x", ct);
        var runId = (string)(await started.Content.ReadFromJsonAsync<JsonObject>(ct))!["run_id"]!;

        using var other = _pipeline.Api.CreateClient();
        other.DefaultRequestHeaders.Add("X-API-Key", OtherTenantKey);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/generator/status/{projectId}", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/generator/events/stream?run_id={runId}", ct)).StatusCode);
        using var theirs = await StartAsync(other, projectId, "chat-x", ct);
        Assert.Equal(HttpStatusCode.Accepted, theirs.StatusCode);
        Assert.NotEqual(runId, (string?)(await theirs.Content.ReadFromJsonAsync<JsonObject>(ct))!["run_id"]);

        using var anonymous = _pipeline.Api.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/generator/status/{projectId}", ct)).StatusCode);
        Assert.Equal("""{"ok":true}""", await anonymous.GetStringAsync("/generator/health", ct));
    }

    [Fact]
    public async Task AStartWithMissingOrWrongFieldsIsRefusedNamingThem()
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await Client.PostAsJsonAsync("/generator/start", new { chat_id = "c", topic = "Fractions", life_skill = "Teamwork", group_size = 40, duration_min = 45 }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["errors"]!.AsObject();
        // The missing id does not hide the body's other problem (group_size 40 is over the schema's 8).
        Assert.Equal(["group_size", "project_id"], errors.Select(e => e.Key).Order(StringComparer.Ordinal));

        // A field of the wrong JSON kind stopped the body's binding, hiding the missing id and every other problem (issue 80).
        using var wrongKinds = await Client.PostAsJsonAsync("/generator/start", new { chat_id = "c", topic = "", group_size = "three", duration_min = 5000 }, ct);
        var wrongKindsText = await wrongKinds.Content.ReadAsStringAsync(ct);
        Assert.True(wrongKinds.StatusCode == HttpStatusCode.BadRequest, wrongKindsText);
        var allErrors = JsonNode.Parse(wrongKindsText)!["errors"]!.AsObject();
        Assert.Equal(["duration_min", "group_size", "life_skill", "project_id", "topic"], allErrors.Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Contains("integer", (string?)allErrors["group_size"]![0], StringComparison.Ordinal);

        using var tooMany = await Client.PostAsJsonAsync("/generator/start", new { project_id = "p", chat_id = "c", topic = "Fractions", life_skill = "Teamwork", group_size = 40, duration_min = 45 }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Equal(["group_size"], (await tooMany.Content.ReadFromJsonAsync<JsonObject>(ct))!["errors"]!.AsObject().Select(e => e.Key));

        using var badRun = await Client.GetAsync("/generator/events/stream?run_id=not-a-run", ct);
        Assert.Equal(HttpStatusCode.BadRequest, badRun.StatusCode);
    }

    internal static Task<HttpResponseMessage> StartAsync(HttpClient client, string projectId, string chatId, CancellationToken ct, string title = "Market Day") =>
        client.PostAsJsonAsync("/generator/start", new
        {
            project_id = projectId,
            chat_id = chatId,
            title,
            topic = "Fractions",
            life_skill = "Problem Solving",
            group_size = 3,
            duration_min = 45,
            owner_email = OwnerEmail,
        }, ct);

    internal static async Task<List<SseItem<string>>> StreamAsync(HttpClient client, string runId, string? lastEventId, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/generator/events/stream?run_id={runId}");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var items = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(ct)).EnumerateAsync(ct))
        {
            items.Add(item);
        }

        return items;
    }

    /// <summary>The log's rows once its last row (run_completed or error) is written: the worker appends it as the run ends.</summary>
    internal static async Task<List<Dictionary<string, string>>> RowsWhenEndedAsync(string path, CancellationToken ct)
    {
        List<Dictionary<string, string>> rows = [];
        await WaitUntilAsync(() =>
        {
            rows = File.Exists(path) ? ReadRows(path) : [];
            return rows.Count > 0 && rows[^1]["stage"] is "run_completed" or "error";
        }, ct);
        return rows;
    }

    private static List<Dictionary<string, string>> ReadRows(string path)
    {
        using var csv = CsvReader.FromFile(path);
        var header = csv.Headers.ToArray();
        var rows = new List<Dictionary<string, string>>();
        while (csv.Read())
        {
            rows.Add(header.Select((name, i) => (name, value: csv.GetString(i) ?? "")).ToDictionary(f => f.name, f => f.value, StringComparer.Ordinal));
        }

        return rows;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken ct)
    {
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(30); !condition(); await Task.Delay(50, ct))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "timed out waiting for the CSV run log's last row");
        }
    }
}
