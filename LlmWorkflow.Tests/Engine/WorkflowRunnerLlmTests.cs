using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Engine.Fakes;
using Microsoft.Extensions.AI;
using static LlmWorkflow.Tests.Engine.TestWorkflows;

namespace LlmWorkflow.Tests.Engine;

[UnitTest]
public sealed class WorkflowRunnerLlmTests : IDisposable
{
    private static readonly WorkflowRunOptions Options = new() { RunId = "run-1" };

    private static readonly DictionaryPriceTable Prices = new(new()
    {
        ["openai/cheap"] = new ModelPrice(1m, 2m),
        ["openai/pricey"] = new ModelPrice(100m, 200m),
    });

    private readonly string _prompts = Directory.CreateTempSubdirectory("prompts-").FullName;

    public void Dispose() => Directory.Delete(_prompts, recursive: true);

    private static string Ask(string id, string config, string extra = "") =>
        $$"""{"id": "{{id}}", "type": "llm", {{extra}} "config": {{config}} }""";

    private WorkflowRunner Runner(FakeLlmGateway llm) =>
        new(TransformRegistry.CreateDefault(), llm, prompts: new PromptLibrary(_prompts), prices: Prices);

    [Fact]
    public async Task RendersThePromptCallsTheGatewayAndShapesTheOutput()
    {
        var workflow = WithSteps("[" + Ask("ask", """
            {"model": ["openai/cheap", "anthropic/backup"], "system": "Be brief.", "prompt": "Hello {{name}} from {{city}}",
             "variables": {"name": "${input.name}", "city": "${context.city}"}, "temperature": 0.2, "max_tokens": 50, "cache_ttl_seconds": 60}
            """) + "]");
        var llm = new FakeLlmGateway(_ => "Hi there");

        var result = await Runner(llm).RunAsync(workflow, new JsonObject { ["name"] = "Ada" }, Options with { Context = new JsonObject { ["city"] = "Oslo" } }, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        var request = Assert.Single(llm.Requests);
        Assert.Equal(["openai/cheap", "anthropic/backup"], request.Models);
        Assert.Equal([(ChatRole.System, "Be brief."), (ChatRole.User, "Hello Ada from Oslo")], request.Messages.Select(m => (m.Role, m.Text)));
        Assert.Equal((0.2f, 50, TimeSpan.FromSeconds(60), "test", "ask"), (request.Temperature, request.MaxTokens, request.CacheTtl, request.WorkflowName, request.StepId));
        Assert.Equal(
            """{"text":"Hi there","model":"openai/cheap","provider":"openai","usage":{"input_tokens":7,"output_tokens":2,"total_tokens":9,"cost_usd":0.001,"estimated":false,"duration_ms":0},"cache_hit":false}""",
            result.Output!.ToJsonString());
        Assert.Equal((7, 2, 0.001m, false, "openai", "openai/cheap"), (result.InputTokens, result.OutputTokens, result.CostUsd, result.Unpriced, result.Provider, result.Model));
        Assert.Equal((7, 2, 0.001m, "openai/cheap"), (result.Steps[0].InputTokens, result.Steps[0].OutputTokens, result.Steps[0].CostUsd, result.Steps[0].Model));
    }

    [Fact]
    public async Task JsonAnswersAreParsedThroughCodeFences()
    {
        var workflow = WithSteps("[" + Ask("ask", """{"model": "openai/cheap", "prompt": "list", "response_format": "json", "json_schema": {"required": ["contacts"]}}""") + "]");
        var llm = new FakeLlmGateway(_ => "```json\n{\"contacts\": [1, 2]}\n```");

        var result = await Runner(llm).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal("""{"contacts":[1,2]}""", result.Output!["json"]!.ToJsonString());
        Assert.True(Assert.Single(llm.Requests).JsonResponse);
    }

    [Theory]
    [InlineData("not json", "json_parse_error")]
    [InlineData("{\"other\": 1}", "schema_mismatch")]
    public async Task BadJsonAnswersFailRetryablyAfterOneRepairTurn(string answer, string type)
    {
        var workflow = WithSteps("[" + Ask("ask", """{"model": "openai/cheap", "prompt": "list", "response_format": "json", "json_schema": {"required": ["contacts"]}}""") + "]");
        var llm = new FakeLlmGateway(_ => answer);

        var result = await Runner(llm).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal((WorkflowRunStatus.Failed, type, true), (result.Status, result.Error!.Type, result.Error.Retryable));
        // The repair turn was asked and paid: two calls, both in the step's cost.
        Assert.Equal(2, llm.Requests.Count);
        Assert.Equal(0.002m, result.CostUsd);
    }

    [Fact]
    public async Task AJsonAnswerWithoutASchemaThatIsNotJsonFailsWithoutARepairTurn()
    {
        var workflow = WithSteps("[" + Ask("ask", """{"model": "openai/cheap", "prompt": "list", "response_format": "json"}""") + "]");
        var llm = new FakeLlmGateway(_ => "not json");

        var result = await Runner(llm).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal((WorkflowRunStatus.Failed, "json_parse_error"), (result.Status, result.Error!.Type));
        Assert.Single(llm.Requests);
    }

    [Fact]
    public async Task AnInvalidAnswerIsRepairedInOneTurnThatCarriesTheViolations()
    {
        var workflow = WithSteps("[" + Ask("ask", """
            {"model": "openai/cheap", "prompt": "list", "response_format": "json",
             "json_schema": {"type": "object", "required": ["contacts"], "properties": {"contacts": {"type": "array", "items": {"$ref": "#/$defs/contact"}}},
                             "$defs": {"contact": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}}
            """) + "]");
        var llm = new FakeLlmGateway(request => request.Messages.Count == 1 ? """{"contacts": [{"name": 7}]}""" : """{"contacts": [{"name": "Ada"}]}""");

        var result = await Runner(llm).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal("""{"contacts":[{"name":"Ada"}]}""", result.Output!["json"]!.ToJsonString());
        Assert.Equal(1, result.Output["repair_turns"]!.GetValue<int>());
        var repair = llm.Requests.ToArray()[1];
        Assert.Equal([ChatRole.User, ChatRole.Assistant, ChatRole.User], repair.Messages.Select(m => m.Role));
        Assert.Contains("/contacts/0/name", repair.Messages[^1].Text, StringComparison.Ordinal);
        var format = Assert.IsType<ChatResponseFormatJson>(repair.ResponseFormat);
        Assert.Equal("ask", format.SchemaName);
        Assert.Equal(0.002m, result.CostUsd);
        Assert.Equal(0.002m, result.Output["usage"]!["cost_usd"]!.GetValue<decimal>());
    }

    [Fact]
    public async Task StreamingSendsDeltasBeforeTheCallCompletedEvent()
    {
        var workflow = WithSteps("[" + Ask("ask", """{"model": "openai/cheap", "prompt": "go", "stream": true}""") + "]");
        var sink = new RecordingProgressSink();

        await Runner(new FakeLlmGateway(_ => "one two three")).RunAsync(workflow, null, Options with { Progress = sink }, TestContext.Current.CancellationToken);

        Assert.Equal(["one", "two", "three"], sink.Events.OfType<LlmDelta>().Select(d => d.Text));
        Assert.Equal(
            ["run_started", "step_started:ask:0", "llm_delta", "llm_delta", "llm_delta", "llm_call_completed", "step_completed:ask:completed:100", "run_completed"],
            sink.Describe());
    }

    [Fact]
    public async Task PromptFilesAndTheirFrontMatterAreUsed()
    {
        await File.WriteAllTextAsync(Path.Combine(_prompts, "greet.md"), "---\nmodel: openai/pricey\nmax_tokens: 77\n---\nGreet {{name}}.", TestContext.Current.CancellationToken);
        var workflow = WithSteps("[" + Ask("ask", """{"prompt_file": "greet.md", "variables": {"name": "${input.name}"}}""") + "]");
        var llm = new FakeLlmGateway();

        await Runner(llm).RunAsync(workflow, new JsonObject { ["name"] = "Ada" }, Options, TestContext.Current.CancellationToken);

        var request = Assert.Single(llm.Requests);
        Assert.Equal(["openai/pricey"], request.Models);
        Assert.Equal((77, "Greet Ada."), (request.MaxTokens, request.Messages[0].Text.Trim()));
    }

    [Fact]
    public async Task TheBudgetStopsBeforeACallThatCouldExceedItAndKeepsPartialResults()
    {
        // cheap: 1000 output tokens at $2/M = $0.002 worst case; pricey: 1000 at $200/M = $0.2.
        var workflow = WithSteps(
            "[" + Ask("first", """{"model": "openai/cheap", "prompt": "a", "max_tokens": 1000}""") + ", "
                + Ask("second", """{"model": "openai/pricey", "prompt": "b", "max_tokens": 1000}""", "\"on_error\": \"continue\",") + "]",
            "\"max_cost_usd\": 0.05,");
        var llm = new FakeLlmGateway();

        var result = await Runner(llm).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Failed, result.Status);
        Assert.Equal(("budget_exceeded", ErrorCategory.UserError, "second"), (result.Error!.Type, result.Error.Category, result.Error.StepId));
        Assert.Equal([("first", StepStatus.Completed), ("second", StepStatus.Failed)], result.Steps.Select(s => (s.StepId, s.Status)));
        Assert.Single(llm.Requests);
        Assert.Equal(0.001m, result.CostUsd);
    }

    /// <summary>
    /// Three cheap steps, each forecast at up to $0.002001 (1 prompt token, 1000 output at $2/M) and billed $0.001 by
    /// the fake: $0.0035 holds two of them one after the other, not the third, and never the whole job's forecast.
    /// </summary>
    private static LlmWorkflow.Engine.Definitions.WorkflowDefinition ThreeCheapSteps(string check) => WithSteps(
        "[" + string.Join(", ", new[] { "one", "two", "three" }.Select(id => Ask(id, """{"model": "openai/cheap", "prompt": "a", "max_tokens": 1000}"""))) + "]",
        $"\"max_cost_usd\": 0.0035, {check}");

    [Fact]
    public async Task WithBudgetCheckRemainingTheJobStopsBeforeTheFirstStepWhenTheRestCannotFit()
    {
        var llm = new FakeLlmGateway();

        var result = await Runner(llm).RunAsync(ThreeCheapSteps("\"budget_check\": \"remaining\","), null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(("budget_exceeded", "one"), (result.Error!.Type, result.Error.StepId));
        Assert.Empty(llm.Requests);
        var details = result.Error.Details!;
        Assert.Equal((0.002001m, 0.004002m, "remaining"),
            ((decimal)details["estimated_step_cost_usd"]!, (decimal)details["remaining_forecast_usd"]!, (string?)details["budget_check"]));
        Assert.Contains("the llm steps after it $0.004002", result.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutBudgetCheckTheJobRunsUntilTheStepThatDoesNotFitAndReportsTheRemainingForecast()
    {
        var llm = new FakeLlmGateway();

        var result = await Runner(llm).RunAsync(ThreeCheapSteps(""), null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(("budget_exceeded", "three"), (result.Error!.Type, result.Error.StepId));
        Assert.Equal(2, llm.Requests.Count);
        Assert.Equal((0m, "step"), ((decimal)result.Error.Details!["remaining_forecast_usd"]!, (string?)result.Error.Details["budget_check"]));
        // Each answered step says what the steps after it were forecast at when it was checked.
        Assert.Equal([0.004002m, 0.002001m], result.Steps.Take(2).Select(s => (decimal)s.Output!["usage"]!["remaining_forecast_usd"]!));
    }

    [Fact]
    public async Task TheRunOptionsCanOverrideTheBudget()
    {
        var workflow = WithSteps("[" + Ask("ask", """{"model": "openai/pricey", "prompt": "b", "max_tokens": 1000}""") + "]", "\"max_cost_usd\": 0.05,");

        var result = await Runner(new FakeLlmGateway()).RunAsync(workflow, null, Options with { MaxCostUsd = 1m }, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
    }

    [Fact]
    public async Task AResumedRunDoesNotPayForFinishedLlmCallsAgain()
    {
        var store = new InMemoryCheckpointStore();
        var workflow = WithSteps(
            "[" + Ask("ask", """{"model": "openai/cheap", "prompt": "a"}""") + ", "
                + Call("after", "flaky", """{"text": "${steps.ask.output.text}"}""") + "]");
        var calls = 0;
        var external = new FakeExternalServiceGateway((operation, parameters, ct) =>
            Interlocked.Increment(ref calls) == 1
                ? throw WorkflowException.External("upstream_down", "down", retryable: true)
                : FakeExternalServiceGateway.Echo(operation, parameters, ct));
        var llm = new FakeLlmGateway(_ => "cached answer");
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), llm, external, prices: Prices);

        var first = await runner.RunAsync(workflow, null, Options with { Checkpoints = store }, TestContext.Current.CancellationToken);
        var second = await runner.RunAsync(workflow, null, Options with { Checkpoints = store }, TestContext.Current.CancellationToken);

        Assert.Equal((WorkflowRunStatus.Failed, WorkflowRunStatus.Completed), (first.Status, second.Status));
        Assert.Single(llm.Requests);
        Assert.Equal("cached answer", second.Output!["params"]!["text"]!.GetValue<string>());
        Assert.Equal((true, 0.001m), (second.Steps[0].FromCheckpoint, second.CostUsd));
    }

    [Fact]
    public async Task ForEachIterationsAreCheckpointedUnderTheirOwnKeys()
    {
        var store = new InMemoryCheckpointStore();
        var workflow = WithSteps(
            """[{"id": "each", "type": "for_each", "config": {"items": ["a", "b", "c"], "steps": ["""
                + Ask("ask", """{"model": "openai/cheap", "prompt": "About {{x}}", "variables": {"x": "${item}"}}""") + "]}}, "
                + Call("after", "flaky") + "]");
        var calls = 0;
        var external = new FakeExternalServiceGateway((operation, parameters, ct) =>
            Interlocked.Increment(ref calls) == 1
                ? throw WorkflowException.External("upstream_down", "down", retryable: true)
                : FakeExternalServiceGateway.Echo(operation, parameters, ct));
        var llm = new FakeLlmGateway(request => request.Messages[0].Text);
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), llm, external);

        await runner.RunAsync(workflow, null, Options with { Checkpoints = store }, TestContext.Current.CancellationToken);
        var second = await runner.RunAsync(workflow, null, Options with { Checkpoints = store }, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, second.Status);
        Assert.Equal(3, llm.Requests.Count);
        Assert.Equal(["each[0]/ask", "each[1]/ask", "each[2]/ask"], second.Steps.Where(s => s.FromCheckpoint).Select(s => s.StepKey).Order());
        Assert.Equal(["About a", "About b", "About c"], second.Steps.Single(s => s.StepId == "each").Output!.AsArray().Select(o => o!["text"]!.GetValue<string>()));
    }

    [Fact]
    public async Task UnpricedCallsAreFlaggedNotCountedAsZero()
    {
        var workflow = WithSteps("[" + Ask("ask", """{"model": "mock/echo", "prompt": "a"}""") + "]");

        var result = await Runner(new FakeLlmGateway(costPerCall: null)).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal((true, (decimal?)null), (result.Unpriced, result.CostUsd));
    }

    [Fact]
    public async Task WithoutAGatewayLlmStepsFailWithAConfigError()
    {
        var workflow = WithSteps("[" + Ask("ask", """{"model": "openai/cheap", "prompt": "a"}""") + "]");

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault()).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(("llm_not_configured", ErrorCategory.ConfigError), (result.Error!.Type, result.Error.Category));
    }
}
