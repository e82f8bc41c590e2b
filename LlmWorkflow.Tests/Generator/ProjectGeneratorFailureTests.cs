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
[IntegrationTest]
public sealed class ProjectGeneratorFailureTests(TestServers servers) : IAsyncLifetime
{
    private GeneratorPipeline _pipeline = null!;

    public async ValueTask InitializeAsync() => _pipeline = await GeneratorPipeline.StartAsync(servers, nameof(ProjectGeneratorFailureTests), new Dictionary<string, string?>
    {
        ["Llm:Mock:Responses:generate_project:section_sec_02"] = "Sorry, I cannot write this section.",
    });

    public ValueTask DisposeAsync() => _pipeline.DisposeAsync();

    [Fact]
    public async Task AFailedSectionStreamsErrorAndTheDocumentKeepsTheSectionsBeforeIt()
    {
        var ct = TestContext.Current.CancellationToken;
        var projectId = "proj-" + Guid.NewGuid().ToString("N")[..8];
        using var started = await ProjectGeneratorTests.StartAsync(_pipeline.Client, projectId, "chat-fail", ct);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var runId = (string)(await started.Content.ReadFromJsonAsync<JsonObject>(ct))!["run_id"]!;

        var events = await ProjectGeneratorTests.StreamAsync(_pipeline.Client, runId, null, ct);
        Assert.Equal(["run_started", "section_started", "section_completed", "section_started"], events.Take(4).Select(e => e.EventType));
        Assert.Equal("error", events[^1].EventType);
        Assert.Equal(["sec_01"], events.Where(e => e.EventType == "section_completed").Select(e => (string?)JsonNode.Parse(e.Data)!["section_id"]));
        var error = JsonNode.Parse(events[^1].Data)!;
        Assert.Equal("error", (string?)error["status"]);
        Assert.Equal(("json_parse_error", "section_sec_02"), ((string?)error["error"]!["type"], (string?)error["error"]!["step_id"]));

        var document = await _pipeline.Client.GetFromJsonAsync<JsonObject>($"/generator/status/{projectId}", ct);
        Assert.Equal("error", (string?)document!["status"]);
        Assert.Equal(["sec_01"], document["sections"]!.AsObject().Select(s => s.Key));
        Assert.Equal("json_parse_error", (string?)document["error"]!["type"]);
        Assert.Null(document["validator"]);

        var rows = await ProjectGeneratorTests.RowsWhenEndedAsync(Path.Combine(_pipeline.CsvDirectory, runId + ".csv"), ct);
        Assert.Equal("error", rows[^1]["stage"]);
        Assert.Contains("section_sec_02", rows[^1]["decision_summary"], StringComparison.Ordinal);
    }
}
