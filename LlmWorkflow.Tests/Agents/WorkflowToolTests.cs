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
/// input that breaks the child's input schema is told to the model and runs nothing; a loop stopped inside the child
/// resumes the child from its last finished step (the call's child checkpoints), paying no finished child LLM call again.
/// </summary>
[UnitTest]
public sealed class WorkflowToolTests
{
    private static readonly WorkflowDefinition Greeter = Engine.TestWorkflows.Parse("""
        {"name": "greeter", "input_schema": {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}}, "required": ["name"]},
         "steps": [{"id": "greet", "type": "transform", "config": {"operation": "template", "template": "Hello, ${input.name}!"}}],
         "output": {"greeting": "${steps.greet.output}"}}
        """);

    private static readonly WorkflowDefinition Researcher = Engine.TestWorkflows.Parse("""
        {"name": "researcher", "steps": [
           {"id": "outline", "type": "llm", "config": {"model": "mock/child", "prompt": "Outline ${input.topic}."}},
           {"id": "draft", "type": "llm", "config": {"model": "mock/child", "prompt": "Draft from ${steps.outline.output.text}"}}],
         "output": {"draft": "${steps.draft.output.text}"}}
        """);

    private static readonly WorkflowDefinition ResearchingParent = Engine.TestWorkflows.Parse("""
        {"name": "test", "steps": [{"id": "agent", "type": "agent", "config": {
          "model": "mock/agent", "input": "${input.question}",
          "tools": [{"name": "research", "type": "workflow", "workflow": "researcher", "description": "Outlines, then drafts.",
                     "parameters": {"type": "object", "properties": {"topic": {"type": "string"}}}}]}}],
         "output": {"answer": "${steps.agent.output.answer}"}}
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

    [Fact]
    public async Task ALoopStoppedInsideTheChildResumesTheChildFromItsLastFinishedStep()
    {
        var ct = TestContext.Current.CancellationToken;
        var children = new CountingChildren();
        var store = new InMemoryAgentStore();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var script = new JsonObject
        {
            ["agent_turns"] = new JsonArray(
                new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["name"] = "research", ["arguments"] = new JsonObject { ["topic"] = "ledgers" } }) },
                new JsonObject { ["text"] = "Researched." }),
        }.ToJsonString();

        // The first run stops as soon as the child's first LLM step finished (and was checkpointed), before its second.
        var killed = new RecordingSink(e => e is StepCompleted { Record.StepId: "outline" }, stop);
        children.ChildProgress = killed;
        var first = await Runner(children, store, script).RunAsync(ResearchingParent, Question(), Options("run-3", new RecordingSink()), stop.Token);
        var resumed = new RecordingSink();
        children.ChildProgress = resumed;
        var second = await Runner(children, store, script).RunAsync(ResearchingParent, Question(), Options("run-3", new RecordingSink()), ct);

        Assert.Equal((WorkflowRunStatus.Cancelled, WorkflowRunStatus.Completed), (first.Status, second.Status));
        Assert.Equal(("Researched.", 2), ((string?)second.Output!["answer"], children.Runs));
        // The outline was called once, by the first run; the resumed child restored it and called the draft.
        Assert.Equal(["outline"], killed.Events.OfType<LlmCallCompleted>().Select(e => e.StepId));
        Assert.Equal(["draft"], resumed.Events.OfType<LlmCallCompleted>().Select(e => e.StepId));
        Assert.Equal([("outline", true), ("draft", false)], resumed.Events.OfType<StepCompleted>().Select(e => (e.Record.StepId, e.Record.FromCheckpoint)));
        // The restored outline's usage still counts, once, in the child's (and so the agent step's) usage.
        var childRun = children.Results[^1];
        Assert.Equal(childRun.Steps.Sum(s => s.InputTokens ?? 0), childRun.InputTokens);
        Assert.True(childRun.Steps.All(s => s.InputTokens > 0), "both child steps carry their tokens");
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

    /// <summary>The greeter and the researcher, counting the child runs that started and keeping their results.</summary>
    private sealed class CountingChildren : IChildWorkflows
    {
        private int _runs;

        public Func<WorkflowRunner> Runner { get; set; } = null!;

        public int Runs => Volatile.Read(ref _runs);

        /// <summary>Where the children's own progress goes (a child run of a job has none); null = nowhere.</summary>
        public IProgressSink? ChildProgress { get; set; }

        public List<WorkflowRunResult> Results { get; } = [];

        public WorkflowDefinition? Find(string name) => new[] { Greeter, Researcher }.FirstOrDefault(w => w.Name == name);

        public async Task<WorkflowRunResult> RunAsync(WorkflowDefinition workflow, JsonNode? input, WorkflowRunOptions options, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _runs);
            var result = await Runner().RunAsync(workflow, input, options with { Progress = ChildProgress ?? options.Progress }, cancellationToken);
            Results.Add(result);
            return result;
        }
    }
}
