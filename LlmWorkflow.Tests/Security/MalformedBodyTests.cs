using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Security;

/// <summary>
/// A corpus of malformed bodies for every JSON route (wrong type for each field, truncated JSON, wrong nesting, huge
/// numbers, strings for objects, arrays for objects, no body): each answer is a 4xx problem that names the field by
/// its JSON path, says the JSON type expected where a value had the wrong type, and carries no .NET type name and no
/// path of the server's disk.
/// </summary>
[IntegrationTest]
public sealed class MalformedBodyTests(ClassApi api) : IClassFixture<ClassApi>
{
    private const string Submit = "/api/v1/workflow";

    /// <summary>(route, method, body, the field the answer must name, the JSON type it must say is expected or null).</summary>
    public static TheoryData<string, string, string, string, string?> Corpus => new()
    {
        // Each field of the submission with a value of the wrong JSON type.
        { Submit, "POST", """{"workflow_name": 42, "input_data": {"name": "Ada"}}""", "workflow_name", "string" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": "Ada"}""", "input_data", "object" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": ["Ada"]}""", "input_data", "object" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": 7}""", "input_data", "object" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "priority": "high"}""", "priority", "integer" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "priority": 2.5}""", "priority", "integer" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "priority": 99999999999999999999}""", "priority", "integer" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "priority": {}}""", "priority", "integer" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "debug_mode": "yes"}""", "debug_mode", "boolean" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "budget_usd": "five"}""", "budget_usd", "number" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "budget_usd": 1e400}""", "budget_usd", null },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "user_id": 12}""", "user_id", "string" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "username": ["a"]}""", "username", "string" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "action": {"a": 1}}""", "action", "string" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "webhook_url": true}""", "webhook_url", "string" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "webhook_secret": 1}""", "webhook_secret", "string" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "webhook_events": "workflow.step_completed"}""", "webhook_events", "array" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}, "webhook_events": [1]}""", "webhook_events[0]", "string" },
        // Wrong shapes of the whole body, wrong nesting, truncated JSON.
        { Submit, "POST", """["hello_transform"]""", "body", "object" },
        { Submit, "POST", "\"hello_transform\"", "body", "object" },
        { Submit, "POST", "42", "body", "object" },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}""", "input_data", null },
        { Submit, "POST", """{"workflow_name": "hello_transform", "input_data": {"name": }}""", "input_data.name", null },
        { Submit, "POST", """{"workflow_name": "hello_transform" "input_data": {"name": "Ada"}}""", "workflow_name", null },
        { Submit, "POST", """{"request": {"workflow_name": "hello_transform", "input_data": {"name": "Ada"}}, "priority": [1]}""", "priority", "integer" },
        { Submit, "POST", "{", "body", null },
        { Submit, "POST", "", "body", null },
        { "/api/v1/jobs", "POST", """{"workflow_name": "hello_transform", "input_data": "x"}""", "input_data", "object" },
        // The other JSON routes.
        { "/api/v1/workflow/validate", "POST", """{"workflow_name": "hello_transform", "input_data": "x"}""", "input_data", "object" },
        { "/api/v1/workflow/validate", "POST", """{"workflow": "not a definition"}""", "workflow", "object" },
        { "/api/v1/jobs/bulk", "DELETE", """{"job_ids": "0193a2f4-8c1e-7b7a-9d4e-2f1c3b5a6d7e"}""", "job_ids", "array" },
        { "/api/v1/jobs/bulk", "DELETE", """{"job_ids": ["not-a-uuid"]}""", "job_ids[0]", "string (a UUID)" },
        { "/api/v1/jobs/bulk", "DELETE", """{"job_ids": [42]}""", "job_ids[0]", "string (a UUID)" },
        { "/api/v1/jobs/bulk", "DELETE", """{"job_ids": {"id": 1}}""", "job_ids", "array" },
        { "/api/v1/admin/keys", "POST", """{"name": 5}""", "name", "string" },
        { "/api/v1/admin/keys", "POST", """{"name": "k", "expires_at": "next week"}""", "expires_at", "string (an ISO 8601 date-time)" },
        { "/api/v1/admin/keys", "POST", """{"name": "k", "expires_at": 1732200000}""", "expires_at", "string (an ISO 8601 date-time)" },
    };

    // Every case is a request refused before it writes anything: one API for the class.
    private readonly HttpClient _admin = api.Admin;

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task EveryMalformedBodyGetsA400NamingTheFieldInJsonTermsWithoutDotNetNamesOrServerPaths(
        string route, string method, string body, string field, string? expectedType)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), route) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await _admin.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {route} {body} -> {(int)response.StatusCode}: {text}");
        AssertLeaksNothing(text);
        var problem = JsonNode.Parse(text)!.AsObject();
        var named = problem["field"]?.GetValue<string>() ?? problem["errors"]?.AsObject().Select(e => e.Key).FirstOrDefault();
        Assert.True(named == field, $"expected field '{field}', got '{named}': {text}");
        var detail = problem["detail"]?.GetValue<string>() ?? "";
        Assert.Contains(field, detail, StringComparison.Ordinal);
        if (expectedType is not null)
        {
            Assert.Contains(expectedType, detail, StringComparison.Ordinal);
        }

        // Where System.Text.Json found it (a body of one line: line 0), for every error the JSON reader located.
        if (problem["line_number"] is { } line)
        {
            Assert.Equal(0, line.GetValue<long>());
            Assert.True(problem["byte_position_in_line"]!.GetValue<long>() >= 0);
            Assert.Contains("line 0, byte ", detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task WrongTypesReportTheValuesPositionAsSystemTextJsonCountsIt()
    {
        var body = "{\n  \"workflow_name\": \"hello_transform\",\n  \"input_data\": {},\n  \"priority\": \"high\"\n}";
        using var response = await _admin.PostAsync(Submit, new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("priority", problem["field"]!.GetValue<string>());
        Assert.Equal("integer", problem["expected"]!.GetValue<string>());
        Assert.Equal(3, problem["line_number"]!.GetValue<long>());
        Assert.Equal("Field 'priority' must be an integer (line 3, byte 20, counted from 0).", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task QueryValuesThatDoNotParseAreNamedInSnakeCaseWithTheirJsonType()
    {
        using var response = await _admin.GetAsync("/api/v1/jobs?limit=lots", TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        AssertLeaksNothing(text);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal("limit", problem["field"]!.GetValue<string>());
        Assert.Equal("limit: \"lots\" is not a valid integer.", problem["detail"]!.GetValue<string>());
    }

    private static void AssertLeaksNothing(string text)
    {
        foreach (var leak in new[] { "System.", "LlmWorkflow.", "Microsoft.", "`1", "/work/", "/root", "/home/", "/tmp/", ".cs", ".dll" })
        {
            Assert.False(text.Contains(leak, StringComparison.Ordinal), $"The answer contains '{leak}': {text}");
        }
    }
}
