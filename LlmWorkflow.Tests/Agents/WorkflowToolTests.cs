using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Llm;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// The agent step's <c>workflow</c> tool: another workflow run as a child, its output handed to the model; the call is
/// ledgered like every tool, so a loop resumed after the child finished reads its result back and never runs it again;
/// input that breaks the child's input schema is told to the model and runs nothing.
/// </summary>
[UnitTest]
public sealed class WorkflowToolTests
{
    private static readonly WorkflowDefinition Greeter = Engine.TestWorkflows.Parse("""
        {"name": "greeter", "input_schema": {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}}, "required": ["name"]},
         "steps": [{"id": "greet", "type": "transform", "config": {"operation": "template", "template": "Hello, ${input.name}!"}}],
         "output": {"greeting": "${steps.greet.output}"}}
        """);

    private static readonly WorkflowDefinition Parent = Engine.TestWorkflows.Parse("""
        {"name": "test", "steps": [{"id": "agent", "type": "agent", "config": {
          "model": "mock/agent", "input": "${input.question}",
          "tools": [{"name": "greet", "type": "workflow", "workflow": "greeter", "description": "Greets a person by name.",
                     "parameters": {"type": "object", "properties": {"who": {"type": "string"}}},
                     "input": {"name": "${item.who}"}}]}}],
         "output": {"answer": "${steps.agent.output.answer}", "tool_calls": "${steps.agent.output.tool_calls}"}}
        """);

    [Fact]
    public async Task TheChildRunsOnceAndAResumedLoopReadsItsOutputBackInsteadOfRunningItAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        var children = new CountingChildren();
        var store = new InMemoryAgentStore();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var stopAfterChild = new RecordingSink(e => e is AgentToolProgress { Status: AgentToolEntry.Finished }, stop);

        var first = await Runner(children, store, ScriptedCall("Ada")).RunAsync(Parent, Question(), Options("run-1", stopAfterChild), stop.Token);
        var resumed = new RecordingSink();
        var second = await Runner(children, store, ScriptedCall("Ada")).RunAsync(Parent, Question(), Options("run-1", resumed), ct);

        Assert.Equal(WorkflowRunStatus.Cancelled, first.Status);
        var result = Assert.Single(stopAfterChild.Events.OfType<AgentToolProgress>(), e => e.Status == AgentToolEntry.Finished).Detail!;
        Assert.Equal(("greeter", "completed", "Hello, Ada!"), ((string?)result["workflow"], (string?)result["status"], (string?)result["output"]!["greeting"]));
        Assert.Equal(WorkflowRunStatus.Completed, second.Status);
        Assert.Equal(("Greeted.", 1), ((string?)second.Output!["answer"], (int)second.Output["tool_calls"]!));
        Assert.Equal(1, children.Runs);
        Assert.DoesNotContain(resumed.Events.OfType<AgentToolProgress>(), e => e.Status == "calling");
    }

    [Fact]
    public async Task InputThatBreaksTheChildsSchemaIsToldToTheModelAndRunsNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var children = new CountingChildren();
        var events = new RecordingSink();

        var run = await Runner(children, new InMemoryAgentStore(), ScriptedCall("")).RunAsync(Parent, Question(), Options("run-2", events), ct);

        Assert.Equal(WorkflowRunStatus.Completed, run.Status);
        var result = Assert.Single(events.Events.OfType<AgentToolProgress>(), e => e.Status == AgentToolEntry.Finished).Detail!;
        Assert.Equal(("refused", "invalid_input"), ((string?)result["status"], (string?)result["error"]!["type"]));
        Assert.Contains("name", (string)result["error"]!["message"]!, StringComparison.Ordinal);
        Assert.Equal(0, children.Runs);
    }

    /// <summary>The mock model calls <c>greet</c> with <paramref name="who"/>, then answers.</summary>
    private static string ScriptedCall(string who) => new JsonObject
    {
        ["agent_turns"] = new JsonArray(
            new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["name"] = "greet", ["arguments"] = new JsonObject { ["who"] = who } }) },
            new JsonObject { ["text"] = "Greeted." }),
    }.ToJsonString();

    private static WorkflowRunner Runner(CountingChildren children, IAgentStore store, string script)
    {
        var options = TestGateways.Options();
        options.Mock.Responses["test"] = new() { ["agent"] = script };
        WorkflowRunner runner = null!;
        children.Runner = () => runner;
        runner = new WorkflowRunner(TransformRegistry.CreateDefault(), TestGateways.Create(options),
            modules: [new AgentStepModule(new AgentServices(store, new HttpClient()) { Workflows = children })]);
        return runner;
    }

    private static WorkflowRunOptions Options(string runId, RecordingSink progress) => new() { RunId = runId, Progress = progress, TenantId = "main-app" };

    private static JsonObject Question() => new() { ["question"] = "Greet Ada." };

    /// <summary>The greeter as the only workflow, counting the child runs that started.</summary>
    private sealed class CountingChildren : IChildWorkflows
    {
        private int _runs;

        public Func<WorkflowRunner> Runner { get; set; } = null!;

        public int Runs => Volatile.Read(ref _runs);

        public WorkflowDefinition? Find(string name) => name == Greeter.Name ? Greeter : null;

        public Task<WorkflowRunResult> RunAsync(WorkflowDefinition workflow, JsonNode? input, WorkflowRunOptions options, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _runs);
            return Runner().RunAsync(workflow, input, options, cancellationToken);
        }
    }
}
