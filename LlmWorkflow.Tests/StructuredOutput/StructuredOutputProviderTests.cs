using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Llm;
using static LlmWorkflow.Tests.Engine.TestWorkflows;

namespace LlmWorkflow.Tests.StructuredOutput;

/// <summary>
/// An llm step with a json_schema against in-process Kestrel fakes of the providers' real wire formats: the schema
/// goes out as the provider's native structured-output request, an invalid answer gets one repair turn carrying the
/// violations (and both calls are paid), and a second invalid answer fails as schema_mismatch naming the paths.
/// </summary>
[IntegrationTest]
public sealed class StructuredOutputProviderTests
{
    private const string Schema = """
        {"type": "object", "additionalProperties": false, "required": ["category", "urgency"],
         "properties": {"category": {"type": "string", "enum": ["billing", "bug", "other"]}, "urgency": {"type": "integer", "minimum": 1, "maximum": 5}}}
        """;

    private static readonly Dictionary<string, string> Keys = new() { ["OPENAI_API_KEY"] = "sk-test-openai-0123456789", ["ANTHROPIC_API_KEY"] = "sk-ant-test-0123456789" };

    private static readonly WorkflowRunOptions Options = new() { RunId = "run-structured" };

    private static LlmWorkflow.Engine.Definitions.WorkflowDefinition Triage(string model) => WithSteps(
        "[{\"id\": \"triage\", \"type\": \"llm\", \"config\": {\"model\": \"" + model
        + "\", \"prompt\": \"Classify: my invoice is wrong\", \"response_format\": \"json\", \"json_schema\": " + Schema + "}}]");

    private static FakeResponse Answer(string content, int promptTokens, int completionTokens) => new(200, new JsonObject
    {
        ["id"] = "chatcmpl-fake",
        ["object"] = "chat.completion",
        ["created"] = 1_700_000_000,
        ["model"] = "gpt-4o",
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content },
            ["finish_reason"] = "stop",
        }),
        ["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = completionTokens, ["total_tokens"] = promptTokens + completionTokens },
    }.ToJsonString());

    private static WorkflowRunner Runner(FakeOpenAiServer fake) => new(
        TransformRegistry.CreateDefault(),
        TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys),
        prices: TestGateways.Prices);

    [Fact]
    public async Task AnInvalidAnswerIsRepairedInOneTurnThatCarriesTheErrorPathsAndBothCallsArePaid()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.Enqueue(Answer("""{"category": "invoice", "urgency": 9}""", 100, 10));
        fake.Enqueue(Answer("""{"category": "billing", "urgency": 4}""", 180, 12));

        var result = await Runner(fake).RunAsync(Triage("openai/gpt-4o"), null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal("""{"category":"billing","urgency":4}""", result.Output!["json"]!.ToJsonString());
        Assert.Equal(2, fake.Requests.Count);
        var first = fake.Requests[0].Json!;
        Assert.Equal("json_schema", first["response_format"]!["type"]!.GetValue<string>());
        Assert.True(first["response_format"]!["json_schema"]!["strict"]!.GetValue<bool>());
        Assert.Equal("triage", first["response_format"]!["json_schema"]!["name"]!.GetValue<string>());
        Assert.Equal(["category", "urgency"], first["response_format"]!["json_schema"]!["schema"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()));
        var repairMessages = fake.Requests[1].Json!["messages"]!.AsArray();
        Assert.Equal(["user", "assistant", "user"], repairMessages.Select(m => m!["role"]!.GetValue<string>()));
        var repairPrompt = repairMessages[^1]!["content"]!.GetValue<string>();
        Assert.Contains("/category", repairPrompt, StringComparison.Ordinal);
        Assert.Contains("/urgency", repairPrompt, StringComparison.Ordinal);
        // Usage counted both calls: the run's tokens and cost, and the step's output.
        Assert.Equal((280, 22), (result.InputTokens, result.OutputTokens));
        var priced = TestGateways.Prices.Cost("openai/gpt-4o", 100, 10, 0)!.Value + TestGateways.Prices.Cost("openai/gpt-4o", 180, 12, 0)!.Value;
        Assert.Equal(priced, result.CostUsd);
        Assert.Equal(priced, result.Output["usage"]!["cost_usd"]!.GetValue<decimal>());
        Assert.Equal(1, result.Output["repair_turns"]!.GetValue<int>());
    }

    [Fact]
    public async Task AnAnswerStillInvalidAfterTheRepairTurnFailsAsSchemaMismatchNamingThePaths()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.Enqueue(Answer("""{"category": "invoice", "urgency": 2}""", 100, 10));
        fake.Enqueue(Answer("""{"category": "billing"}""", 180, 12));

        var result = await Runner(fake).RunAsync(Triage("openai/gpt-4o"), null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Failed, result.Status);
        var error = result.Error!;
        Assert.Equal(("schema_mismatch", ErrorCategory.ExternalError, "triage"), (error.Type, error.Category, error.StepId));
        Assert.Contains("(root)", error.Message, StringComparison.Ordinal);
        Assert.Contains("urgency", error.Message, StringComparison.Ordinal);
        Assert.Equal(["(root)"], error.Details!["paths"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal(2, fake.Requests.Count);
        // Both paid calls are on the run even though the step failed.
        Assert.Equal((280, 22), (result.InputTokens, result.OutputTokens));
    }

    [Fact]
    public async Task AnthropicIsSentTheSchemaAsItsNativeStructuredOutput()
    {
        await using var fake = await FakeAnthropicServer.StartAsync(new FakeAnthropicOptions { Chunks = ["""{"category": "bug", "urgency": 2}"""] });
        var gateway = TestGateways.Create(TestGateways.Options(("anthropic", new LlmProviderOptions { BaseUrl = fake.BaseUrl.ToString() })), Keys);
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), gateway, prices: TestGateways.Prices);

        var result = await runner.RunAsync(Triage("anthropic/claude-sonnet-4-5"), null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        var body = Assert.Single(fake.Requests).Json!;
        // The Anthropic SDK's IChatClient maps ChatResponseFormat.ForJsonSchema to the Messages API's structured outputs
        // (output_config.format); keywords Anthropic does not enforce (minimum, maximum) go into a description, and
        // this service's validator still enforces them.
        var format = body["output_config"]!["format"]!;
        Assert.Equal("json_schema", format["type"]!.GetValue<string>());
        Assert.Equal(["category", "urgency"], format["schema"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("""{"category":"bug","urgency":2}""", result.Output!["json"]!.ToJsonString());
    }
}
