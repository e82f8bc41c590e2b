using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Api;

/// <summary>
/// Answers a client written from the documents can act on: a malformed job id gets the job problem body, an unknown
/// webhook event name is refused with the valid names, and no answer names a path on the server.
/// </summary>
[IntegrationTest]
public sealed class ClearErrorTests(ClassApi api) : IClassFixture<ClassApi>
{
    // Refused requests and a dry run: nothing is written, so one API serves the class.
    private readonly HttpClient _client = api.Caller;

    [Theory]
    [InlineData("GET", "/api/v1/status/not-a-uuid")]
    [InlineData("GET", "/api/v1/jobs/not-a-uuid")]
    [InlineData("DELETE", "/api/v1/workflow/not-a-uuid")]
    [InlineData("POST", "/api/v1/jobs/not-a-uuid/retry")]
    [InlineData("GET", "/api/v1/jobs/not-a-uuid/events")]
    [InlineData("POST", "/api/v1/jobs/12345/signals/approval")]
    public async Task AMalformedJobIdGetsTheJobProblemBodyWithAStringStatus(string method, string route)
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await _client.SendAsync(new HttpRequestMessage(new HttpMethod(method), route), ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!;
        Assert.Equal("not_found", body["status"]!.GetValue<string>());
        Assert.Equal(404, (int)body["http_status"]!);
        Assert.Null(body["job_id"]);
        Assert.Contains("is not a job id", (string?)body["error_message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWellFormedIdOnAnUnknownSubRouteIsAPlain404()
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await _client.GetAsync($"/api/v1/jobs/{Guid.NewGuid()}/no-such-thing", ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null((await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["http_status"]);
    }

    [Fact]
    public async Task AnUnknownWebhookEventIsA400ListingTheValidNames()
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await _client.PostAsJsonAsync("/api/v1/workflow", new
        {
            workflow_name = "hello_transform",
            input_data = new { name = "A" },
            webhook_url = "https://hooks.example.com/llm",
            webhook_secret = "s3cret",
            webhook_events = new[] { "workflow.step_completed", "workflow.step_complete", "workflow.llm_delta" },
        }, ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var message = (string?)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["errors"]!["webhook_events"]![0];
        Assert.Contains("\"workflow.step_complete\", \"workflow.llm_delta\"", message, StringComparison.Ordinal);
        Assert.Contains("workflow.step_completed", message!.Split("the events are")[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingPromptFileIsNamedWithoutTheServersPath()
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await _client.PostAsJsonAsync("/api/v1/workflow/validate", new
        {
            workflow = new
            {
                name = "missing_prompt",
                steps = new[] { new { id = "draft", type = "llm", config = new { model = "mock/echo", prompt_file = "nowhere/missing.md" } } },
            },
        }, ct);

        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var problem = JsonNode.Parse(text)!["problems"]!.AsArray().Single()!;
        Assert.Equal("missing_prompt_file", (string?)problem["code"]);
        Assert.Contains("'nowhere/missing.md' does not exist in workflows/prompts", (string?)problem["message"], StringComparison.Ordinal);
        Assert.Contains("workflows/prompts/", (string?)problem["hint"], StringComparison.Ordinal);
        Assert.DoesNotContain(RepositoryPaths.Root, text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"/", text.Replace("\"/api", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }
}
