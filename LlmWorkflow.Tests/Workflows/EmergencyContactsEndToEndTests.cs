using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Workflows;

/// <summary>
/// emergency_contacts through the API and a Worker on real Postgres + Redis, with a fake Google Places and a fake
/// OpenAI-compatible server standing in for OpenRouter.
/// </summary>
[IntegrationTest]
public sealed class EmergencyContactsEndToEndTests(TestServers servers) : IAsyncLifetime
{
    private const int PromptTokens = 5210;
    private const int CompletionTokens = 2980;

    private FakeGooglePlacesServer _places = null!;
    private FakeOpenAiServer _llm = null!;
    private WorkflowStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        _places = await FakeGooglePlacesServer.StartAsync();
        _places.Places =
        [
            new("Zuckerberg San Francisco General Hospital", "1001 Potrero Ave, San Francisco", 37.7557, -122.4048, 3.9, "hospital", "health"),
            new("UCSF Medical Center at Mission Bay", "1975 4th St, San Francisco", 37.7669, -122.3905, 4.3, "hospital", "health"),
            new("SFPD Mission Station", "630 Valencia St, San Francisco", 37.7626, -122.4219, 3.5, "police"),
            new("San Francisco Fire Station 7", "2300 Folsom St, San Francisco", 37.7605, -122.4145, 4.7, "fire_station"),
            new("Ritual Coffee Roasters", "1026 Valencia St, San Francisco", 37.7565, -122.4213, 4.4, "cafe", "food"),
        ];
        _llm = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions
        {
            Chunks = [ExampleFiles.MockAnswer("emergency_contacts", "generate_analysis")],
            PromptTokens = PromptTokens,
            CompletionTokens = CompletionTokens,
        });
        var settings = WorkflowStack.BaseSettings();
        settings["Llm:Providers:openrouter:BaseUrl"] = _llm.ApiUrl.ToString();
        settings["Llm:Providers:openrouter:ApiKey"] = "test-openrouter-key";
        settings["External:Services:google_places:BaseUrl"] = _places.BaseUrl.ToString();
        settings["External:Services:google_places:ApiKey"] = "test-places-key";
        _stack = await WorkflowStack.StartAsync(servers, nameof(EmergencyContactsEndToEndTests), settings);
    }

    public async ValueTask DisposeAsync()
    {
        await _stack.DisposeAsync();
        await _llm.DisposeAsync();
        await _places.DisposeAsync();
    }

    [Fact]
    public async Task CompletesWithContactsMeetingLocationsProgressAndCost()
    {
        var ct = TestContext.Current.CancellationToken;

        var status = await _stack.RunAsync("emergency_contacts", ExampleFiles.Example("emergency_contacts"), ct);

        Assert.True((string?)status["status"] == "completed", status.ToJsonString());
        var output = status["result"]!["output"]!.AsObject();
        var contacts = output["contacts"]!.AsArray();
        Assert.Equal(7, contacts.Count);
        var expectedFirst = JsonNode.Parse(
            """{"name":"Zuckerberg San Francisco General Hospital","phone":"(628) 206-8000","address":"1001 Potrero Ave, San Francisco, CA 94110","category":"medical","priority":"critical","fitScore":"96","available247":"Yes","reasoning":"The city's only Level I trauma center and the closest emergency department to your home for crush and fall injuries."}""");
        Assert.True(JsonNode.DeepEquals(expectedFirst, contacts[0]), contacts[0]!.ToJsonString()); // jsonb storage does not keep key order
        Assert.Equal(["medical", "fire", "police", "utility", "government", "medical", "family"], contacts.Select(c => (string?)c!["category"]));
        var locations = output["meetingLocations"]!.AsArray();
        Assert.Equal(["Primary: Garfield Square", "Secondary: Mission Branch Library"], locations.Select(l => (string?)l!["name"]));
        Assert.Equal("Harrison St & 26th St, San Francisco, CA 94110", (string?)locations[0]!["address"]);
        Assert.Equal(4, output["quickReference"]!.AsArray().Count);
        Assert.StartsWith("Print this page", (string?)output["notes"], StringComparison.Ordinal);

        // Places: one typed lookup per kind around the input's coordinates; the cafe never reaches the model.
        Assert.Equal(["fire_station", "hospital", "police"], _places.Requests.Select(r => r.Query("type")).Order());
        Assert.All(_places.Requests, r => Assert.Equal("37.7749,-122.4194", r.Query("location")));
        Assert.Equal(["Zuckerberg San Francisco General Hospital", "UCSF Medical Center at Mission Bay"],
            output["nearby_services"]!["hospitals"]!["places"]!.AsArray().Select(h => (string?)h!["name"]));
        Assert.Equal("OK", (string?)output["nearby_services"]!["hospitals"]!["status"]);
        Assert.Equal("630 Valencia St, San Francisco", (string?)output["nearby_services"]!["police"]!["places"]![0]!["address"]);

        // The model got the system prompt (with the shared safety rules) and the places in the user prompt.
        var call = Assert.Single(_llm.Requests).Json!;
        Assert.Equal("anthropic/claude-3.5-sonnet", (string?)call["model"]);
        var messages = call["messages"]!.AsArray();
        Assert.Equal("system", (string?)messages[0]!["role"]);
        Assert.Contains("emergency-preparedness planner", (string?)messages[0]!["content"], StringComparison.Ordinal);
        Assert.Contains("call 911", (string?)messages[0]!["content"], StringComparison.Ordinal);
        var prompt = (string)messages[1]!["content"]!;
        Assert.Contains("- **Location:** San Francisco, CA (37.7749, -122.4194)", prompt, StringComparison.Ordinal);
        Assert.Contains("- San Francisco Fire Station 7, 2300 Folsom St, San Francisco (lat 37.7605, lng -122.4145, rating 4.7)", prompt, StringComparison.Ordinal);
        Assert.Contains("UCSF Medical Center at Mission Bay", prompt, StringComparison.Ordinal);
        Assert.DoesNotContain("Ritual Coffee", prompt, StringComparison.Ordinal);
        Assert.DoesNotContain("were found", prompt, StringComparison.Ordinal);

        // Cost: the fake's usage priced with pricing.json's claude-3.5-sonnet row ($3 in / $15 out per million).
        var expectedCost = Math.Round((PromptTokens * 3m + CompletionTokens * 15m) / 1_000_000m, 6);
        var cost = status["result"]!["cost_data"]!;
        Assert.Equal("openrouter", (string?)cost["provider"]);
        Assert.Contains("anthropic/claude-3.5-sonnet", (string?)cost["model"], StringComparison.Ordinal);
        Assert.Equal(PromptTokens, cost["input_tokens"]!.GetValue<int>());
        Assert.Equal(CompletionTokens, cost["output_tokens"]!.GetValue<int>());
        Assert.Equal(PromptTokens + CompletionTokens, cost["total_tokens"]!.GetValue<int>());
        Assert.Equal(expectedCost, cost["cost_usd"]!.GetValue<decimal>());
        Assert.Equal(expectedCost, output["llm_usage"]!["cost_usd"]!.GetValue<decimal>());

        // Documents 000 and 001's shapes, beside ours: result.contacts, celery_task_id, top-level output and metadata.
        Assert.True(JsonNode.DeepEquals(contacts, status["result"]!["contacts"]), "result.contacts is result.output.contacts");
        Assert.True(JsonNode.DeepEquals(output, status["output"]), "output is result.output");
        Assert.Equal((string?)status["job_id"], (string?)status["celery_task_id"]);
        var metadata = status["metadata"]!;
        Assert.Equal(expectedCost, metadata["total_cost_usd"]!.GetValue<decimal>());
        Assert.Equal(PromptTokens + CompletionTokens, metadata["total_tokens"]!.GetValue<int>());
        Assert.Equal((int?)status["duration_ms"], (int?)metadata["duration_ms"]);

        // Progress: the top-level steps start in order under their display names; every nested step reports too.
        var events = await _stack.EventsAsync((string)status["job_id"]!, ct);
        Assert.Equal("run_started", events[0].Type);
        Assert.Equal("run_completed", events[^1].Type);
        var started = events.Where(e => e.Type == "step_started").Select(e => e.Data).ToList();
        Assert.Equal(
            ["Finding Nearby Emergency Services", "Analyzing Emergency Contacts", "Parsing Contact Plan"],
            started.Where(e => e["parent_step_id"] is null).Select(e => (string?)e["display_name"]));
        Assert.Equal(
            ["Extracting Fire Stations Details", "Extracting Hospitals Details", "Extracting Police Stations Details",
             "Keeping Nearest Fire Stations", "Keeping Nearest Hospitals", "Keeping Nearest Police Stations",
             "Recording Fire Stations Lookup", "Recording Hospitals Lookup", "Recording Police Stations Lookup",
             "Searching Fire Stations", "Searching Hospitals", "Searching Police Stations"],
            started.Where(e => e["parent_step_id"] is not null).Select(e => (string)e["display_name"]!).Order(StringComparer.Ordinal));
        var percents = events.Where(e => e.Type == "step_completed" && e.Data["parent_step_id"] is null).Select(e => e.Data["percent"]!.GetValue<int>()).ToList();
        Assert.Equal(percents.Order(), percents);
        Assert.Equal(100, percents[^1]);
        Assert.All(status["steps"]!.AsArray(), s => Assert.Equal("completed", (string?)s!["status"]));
    }

    [Fact]
    public async Task PlacesDownGivesEmptyListsAndThePlanIsStillWritten()
    {
        var ct = TestContext.Current.CancellationToken;
        for (var i = 0; i < 6; i++)
        {
            _places.EnqueueError(503, "Backend Error");
        }

        var status = await _stack.RunAsync("emergency_contacts", ExampleFiles.Example("emergency_contacts"), ct);

        Assert.True((string?)status["status"] == "completed", status.ToJsonString());
        // Three lookups, each tried twice (External:MaxAttempts) before its on_error default applies.
        Assert.Equal(6, _places.CallCount);
        var searches = status["steps"]!.AsArray().Where(s => ((string)s!["step_id"]!).StartsWith("search_", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, searches.Count);
        Assert.All(searches, s =>
        {
            Assert.Equal("defaulted", (string?)s!["status"]);
            Assert.Equal("EXTERNAL_ERROR", (string?)s["error"]!["category"]);
            Assert.True(s["error"]!["retryable"]!.GetValue<bool>());
        });
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"hospitals":{"status":"UNAVAILABLE","places":[]},"police":{"status":"UNAVAILABLE","places":[]},"fire_stations":{"status":"UNAVAILABLE","places":[]}}"""), status["result"]!["output"]!["nearby_services"]));
        Assert.Equal(7, status["result"]!["output"]!["contacts"]!.AsArray().Count);

        var prompt = (string)Assert.Single(_llm.Requests).Json!["messages"]![1]!["content"]!;
        Assert.Contains("No hospitals were found near this location (or the lookup was unavailable).", prompt, StringComparison.Ordinal);
        Assert.Contains("No police stations were found", prompt, StringComparison.Ordinal);
        Assert.Contains("No fire stations were found", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAnswerWithoutTheSectionsFailsWithAParseErrorNamingTheStep()
    {
        var ct = TestContext.Current.CancellationToken;
        _llm.Options = _llm.Options with { Chunks = ["I'm sorry, but I can't put together a contact plan for this location right now. Please call 911 in an emergency."] };

        var status = await _stack.RunAsync("emergency_contacts", ExampleFiles.Example("emergency_contacts"), ct);

        Assert.True((string?)status["status"] == "failed", status.ToJsonString());
        var error = status["error"]!;
        Assert.Equal("USER_ERROR", (string?)error["category"]);
        Assert.Equal("parse_error", (string?)error["type"]);
        Assert.Equal("parse_response", (string?)error["step_id"]);
        Assert.False(error["retryable"]!.GetValue<bool>());
        Assert.Contains("section 'Emergency Contacts' not found", (string?)error["message"], StringComparison.Ordinal);
        Assert.Equal($"Step \"Parsing Contact Plan\" (parse_response) failed: {error["message"]}", (string?)status["error_message"]);
        Assert.Equal("Parsing Contact Plan", (string?)status["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == "parse_response")!["display_name"]);

        var steps = status["steps"]!.AsArray().ToDictionary(s => (string)s!["step_id"]!, s => (string)s!["status"]!);
        Assert.Equal("completed", steps["generate_analysis"]);
        Assert.Equal("failed", steps["parse_response"]);
        Assert.Single(_llm.Requests);

        var events = await _stack.EventsAsync((string)status["job_id"]!, ct);
        Assert.Equal("run_failed", events[^1].Type);
        Assert.Equal("parse_response", (string?)events[^1].Data["error"]!["step_id"]);
    }
}
