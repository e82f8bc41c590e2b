using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Generator;

/// <summary>
/// A generate_project run that fails at its second section (the mock answers it with text that is not JSON): the
/// stream ends with 004's <c>error</c> event, the status document says <c>error</c> with the job's error and keeps the
/// section that was persisted before the failure, and the CSV run log ends with an <c>error</c> row.
/// </summary>
public sealed class ProjectGeneratorFailureTests(TestServers servers) : IAsyncLifetime
{
    private readonly string _csvDirectory = Path.Combine(Path.GetTempPath(), "llmwf-csv-" + Guid.NewGuid().ToString("N"));
    private ApiFactory _api = null!;
    private WorkerHost _worker = null!;
    private HttpClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var settings = (await TestEnvironment.CreateAsync(servers, nameof(ProjectGeneratorFailureTests))).Settings(new Dictionary<string, string?>
        {
            ["Llm:Mock:ServeAllModels"] = "true",
            ["Llm:Mock:Responses:generate_project:section_sec_02"] = "Sorry, I cannot write this section.",
            ["RunLogs:CsvDirectory"] = _csvDirectory,
        });
        _api = new ApiFactory(settings);
        _client = _api.CreateAuthenticatedClient();
        _worker = await WorkerHost.StartAsync(settings, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        _client.Dispose();
        await _api.DisposeAsync();
        if (Directory.Exists(_csvDirectory))
        {
            Directory.Delete(_csvDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task AFailedSectionStreamsErrorAndTheDocumentKeepsTheSectionsBeforeIt()
    {
        var ct = TestContext.Current.CancellationToken;
        var projectId = "proj-" + Guid.NewGuid().ToString("N")[..8];
        using var started = await ProjectGeneratorTests.StartAsync(_client, projectId, "chat-fail", ct);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var runId = (string)(await started.Content.ReadFromJsonAsync<JsonObject>(ct))!["run_id"]!;

        var events = await ProjectGeneratorTests.StreamAsync(_client, runId, null, ct);
        Assert.Equal(["run_started", "section_started", "section_completed", "section_started", "error"], events.Select(e => e.EventType));
        var error = JsonNode.Parse(events[^1].Data)!;
        Assert.Equal("error", (string?)error["status"]);
        Assert.Equal("json_parse_error", (string?)error["error"]!["type"]);

        var document = await _client.GetFromJsonAsync<JsonObject>($"/generator/status/{projectId}", ct);
        Assert.Equal("error", (string?)document!["status"]);
        Assert.Equal(["sec_01"], document["sections"]!.AsObject().Select(s => s.Key));
        Assert.Equal("json_parse_error", (string?)document["error"]!["type"]);
        Assert.Null(document["validator"]);

        var rows = await ProjectGeneratorTests.RowsWhenEndedAsync(Path.Combine(_csvDirectory, runId + ".csv"), ct);
        Assert.Equal("error", rows[^1]["stage"]);
        Assert.Contains("section_sec_02", rows[^1]["decision_summary"], StringComparison.Ordinal);
    }
}
