using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Workflows;

/// <summary>
/// Every example input under workflows/examples/ runs through the API and a Worker with the offline mock provider
/// serving every model (<c>Llm:Mock:ServeAllModels=true</c>) and no API keys: the README's quick start. The workflows
/// that wait are given what they wait for as their users would: the decision of content_approval and the payment of
/// order_payment as signals once they wait; follow_up sleeps its two seconds.
/// </summary>
[IntegrationTest]
public sealed class ExampleInputRunTests(TestServers servers) : IAsyncLifetime
{
    private WorkflowStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        var settings = WorkflowStack.BaseSettings();
        settings["Llm:Mock:ServeAllModels"] = "true";
        // No Places key: the lookups of emergency_contacts fall back to empty lists, as their on_error says.
        settings["External:Services:google_places:ApiKey"] = "";
        _stack = await WorkflowStack.StartAsync(servers, nameof(ExampleInputRunTests), settings);
    }

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task EveryExampleInputCompletesWithTheMockProvider()
    {
        var ct = TestContext.Current.CancellationToken;
        var submitted = new List<(string Workflow, string StatusUrl)>();
        foreach (var workflow in ExampleFiles.WorkflowNames)
        {
            var accepted = await _stack.SubmitAsync(new JsonObject { ["workflow_name"] = workflow, ["input_data"] = ExampleFiles.Example(workflow) }, ct);
            submitted.Add((workflow, (string)accepted["status_url"]!));
        }

        // The signals the waiting examples need, sent once each job waits for them.
        var signals = new Dictionary<string, (string Event, string Body)>
        {
            ["content_approval"] = ("approval", """{"approved": true, "comment": "Ship it.", "decided_by": "dashboard"}"""),
            ["order_payment"] = ("payment.received", """{"paid": true, "payment_id": "pay_8QX2", "amount": "EUR 142.50"}"""),
        };
        foreach (var (workflow, statusUrl) in submitted.Where(s => signals.ContainsKey(s.Workflow)))
        {
            var waiting = await JobPolling.WaitForStatusAsync(_stack.Client, statusUrl, "waiting", TimeSpan.FromSeconds(60), ct);
            var (eventName, body) = signals[workflow];
            Assert.Equal(eventName, (string?)waiting["waiting_for"]!["event"]);
            using var sent = await _stack.Client.PostAsync($"/api/v1/jobs/{waiting["job_id"]}/signals/{eventName}",
                new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct);
            Assert.Equal(System.Net.HttpStatusCode.Accepted, sent.StatusCode);
        }

        var outputs = new Dictionary<string, JsonObject>();
        foreach (var (workflow, statusUrl) in submitted)
        {
            if (workflow == "support_agent")
            {
                // The agent proposes a refund and waits for a person; approved through the signals API, the refund runs.
                var waiting = await JobPolling.WaitForStatusAsync(_stack.Client, statusUrl, "waiting", TimeSpan.FromSeconds(60), ct);
                using var approve = await _stack.Client.PostAsJsonAsync(
                    $"/api/v1/jobs/{(string)waiting["job_id"]!}/signals/approval", new JsonObject { ["approved"] = true, ["comment"] = "damaged on arrival" }, ct);
                Assert.True(approve.IsSuccessStatusCode, await approve.Content.ReadAsStringAsync(ct));
            }

            var status = await JobPolling.WaitForTerminalAsync(_stack.Client, statusUrl, TimeSpan.FromSeconds(60), ct);
            Assert.True((string?)status["status"] == "completed", $"{workflow}: {status.ToJsonString()}");
            outputs[workflow] = status["result"]!["output"]!.AsObject();
            Assert.Equal(0m, status["result"]!["cost_data"]!["cost_usd"]!.GetValue<decimal>());
        }

        Assert.Equal(10, outputs.Count);
        var agent = outputs["support_agent"];
        Assert.Equal(("answered", 3, 2), ((string?)agent["stop_reason"], (int)agent["turns"]!, (int)agent["tool_calls"]!));
        Assert.StartsWith("Sorry about the torn strap", (string?)agent["reply"], StringComparison.Ordinal);
        Assert.Equal("Hello, Ada!", (string?)outputs["hello_transform"]["greeting"]);

        var contacts = outputs["emergency_contacts"];
        Assert.Equal(7, contacts["contacts"]!.AsArray().Count);
        Assert.Equal("Zuckerberg San Francisco General Hospital", (string?)contacts["contacts"]![0]!["name"]);
        Assert.Equal("(628) 206-8000", (string?)contacts["contacts"]![0]!["phone"]);
        Assert.Equal(["Primary: Garfield Square", "Secondary: Mission Branch Library"], contacts["meetingLocations"]!.AsArray().Select(l => (string?)l!["name"]));
        // Stored results are jsonb, which does not keep key order: compare as JSON values.
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"hospitals":{"status":"UNAVAILABLE","places":[]},"police":{"status":"UNAVAILABLE","places":[]},"fire_stations":{"status":"UNAVAILABLE","places":[]}}"""), contacts["nearby_services"]), contacts["nearby_services"]!.ToJsonString());

        var mission = outputs["mission_generation"];
        var sections = mission["parsed_sections"]!.AsObject();
        Assert.Equal(["day_by_day", "executive_summary", "next_steps", "recommended_bundles", "risk_assessment", "survival_skills"], sections.Select(s => s.Key).Order(StringComparer.Ordinal));
        Assert.All(sections, s => Assert.False(string.IsNullOrWhiteSpace((string?)s.Value)));
        Assert.StartsWith("# 72-Hour Earthquake and Wildfire Mission Plan", (string?)mission["mission_plan"], StringComparison.Ordinal);
        Assert.True(mission["llm_usage"]!["total_tokens"]!.GetValue<int>() > 0);

        var content = outputs["content_approval"];
        Assert.Equal((true, "Ship it.", "then"), ((bool?)content["decision"]!["approved"], (string?)content["decision"]!["comment"], (string?)content["published"]));
        Assert.Equal(ExampleFiles.MockAnswer("content_approval", "polish_post"), (string?)content["post"]!["text"]);

        var order = outputs["order_payment"];
        Assert.Equal(("Order ORD-1042 for Sam Rivera: EUR 142.50", "pay_8QX2", "then"), ((string?)order["order"], (string?)order["payment"]!["payment_id"], (string?)order["outcome"]));
        Assert.Equal(ExampleFiles.MockAnswer("order_payment", "confirmation_email"), (string?)order["message"]!["text"]);

        var followUp = outputs["follow_up"];
        Assert.Equal(ExampleFiles.MockAnswer("follow_up", "welcome_message"), (string?)followUp["welcome"]);
        Assert.Equal(ExampleFiles.MockAnswer("follow_up", "follow_up_message"), (string?)followUp["follow_up"]);
        Assert.NotNull((string?)followUp["followed_up_at"]);

        var triage = outputs["support_triage"];
        Assert.Equal("bug", (string?)triage["classification"]!["category"]);
        Assert.Equal("then", (string?)triage["escalated"]);
        Assert.Equal(ExampleFiles.MockAnswer("support_triage", "escalate_ticket"), (string?)triage["response"]);
        Assert.Equal("Ticket T-48213: bug / high urgency; route: then", (string?)triage["log_line"]);

        var trip = outputs["trip_briefing"];
        Assert.Equal(
            ["food: Suggest one food activity in Lisbon in a single sentence.",
             "tiles and architecture: Suggest one tiles and architecture activity in Lisbon in a single sentence.",
             "coastal walks: Suggest one coastal walks activity in Lisbon in a single sentence."],
            trip["activities"]!.AsArray().Select(a => (string?)a));
        Assert.Equal(9, trip["packing_list"]!.AsArray().Count);
        Assert.Equal("Comfortable walking shoes with good grip", (string?)trip["packing_list"]![0]);
        Assert.Contains("- [ ] Light rain jacket\n", (string?)trip["briefing_markdown"], StringComparison.Ordinal);
        Assert.StartsWith("# Lisbon briefing for Ada\n\n## Outlook\nExpect mild", (string?)trip["briefing_markdown"], StringComparison.Ordinal);
    }
}
