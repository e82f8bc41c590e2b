using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Workflows;

/// <summary>A deployment without the OpenRouter key: the dry run reports it, and a job fails with CONFIG_ERROR.</summary>
[IntegrationTest]
public sealed class MissingKeyTests(TestServers servers) : IAsyncLifetime
{
    private const string UnsetVariable = "LLMWF_TEST_OPENROUTER_KEY_THAT_IS_NEVER_SET";

    private WorkflowStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        var settings = WorkflowStack.BaseSettings();
        settings["Llm:Providers:openrouter:ApiKeyEnvironmentVariable"] = UnsetVariable;
        settings["External:Services:google_places:ApiKey"] = "";
        _stack = await WorkflowStack.StartAsync(servers, nameof(MissingKeyTests), settings);
    }

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    [Theory]
    [InlineData("emergency_contacts", 1)]
    [InlineData("mission_generation", 4)]
    public async Task TheDryRunReportsTheMissingKeyForEveryModelOfTheChain(string workflow, int llmStepIndex)
    {
        var ct = TestContext.Current.CancellationToken;

        var response = await _stack.Client.PostAsJsonAsync("/api/v1/workflow/validate",
            new JsonObject { ["workflow_name"] = workflow, ["input_data"] = ExampleFiles.Example(workflow) }, ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var plan = (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!;
        Assert.Empty(plan["input_problems"]!.AsArray());
        var problems = plan["problems"]!.AsArray();
        Assert.Equal(
            [$"$.steps[{llmStepIndex}].config.model[0]", $"$.steps[{llmStepIndex}].config.model[1]"],
            problems.Select(p => (string?)p!["json_path"]));
        Assert.All(problems, p =>
        {
            Assert.Contains("Missing API key for LLM provider 'openrouter'", (string?)p!["message"], StringComparison.Ordinal);
            Assert.Contains(UnsetVariable, (string?)p["message"], StringComparison.Ordinal);
        });
        Assert.False(plan["is_valid"]!.GetValue<bool>());
    }

    [Fact]
    public async Task AJobNeedingTheMissingKeyFailsWithAConfigError()
    {
        var ct = TestContext.Current.CancellationToken;

        var status = await _stack.RunAsync("mission_generation", ExampleFiles.Example("mission_generation"), ct);

        Assert.True((string?)status["status"] == "failed", status.ToJsonString());
        var error = status["error"]!;
        Assert.Equal("CONFIG_ERROR", (string?)error["category"]);
        Assert.Equal("missing_api_key", (string?)error["type"]);
        Assert.Equal("generate_mission_plan", (string?)error["step_id"]);
        Assert.False(error["retryable"]!.GetValue<bool>());
        Assert.Contains(UnsetVariable, (string?)error["message"], StringComparison.Ordinal);
    }
}
