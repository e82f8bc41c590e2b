using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// <see cref="NetworkSteps"/>: which workflows the worker treats as waiting on the network when it starts a batch of
/// jobs (it lets each such job's request leave before it starts the next).
/// </summary>
[UnitTest]
public sealed class NetworkStepsTests
{
    private const string Transform = """{"id": "shape", "type": "transform", "config": {"input": "${input}", "operations": [{"type": "pick", "fields": ["a"]}]}}""";

    private const string Llm = """{"id": "ask", "type": "llm", "config": {"model": "mock/echo", "prompt": "hi"}}""";

    [Fact]
    public void ATransformOnlyWorkflowDoesNotCallOut() =>
        Assert.False(NetworkSteps.CallsOut(TestWorkflows.WithSteps($"[{Transform}]")));

    [Fact]
    public void AnLlmStepCallsOut() =>
        Assert.True(NetworkSteps.CallsOut(TestWorkflows.WithSteps($"[{Transform}, {Llm}]")));

    [Fact]
    public void AnExternalApiStepCallsOut() =>
        Assert.True(NetworkSteps.CallsOut(TestWorkflows.WithSteps($"[{TestWorkflows.Call("fetch", "items")}]")));

    [Fact]
    public void AnLlmStepInsideAParallelBranchCallsOut() =>
        Assert.True(NetworkSteps.CallsOut(TestWorkflows.WithSteps(
            """[{"id": "fan", "type": "parallel", "config": {"branches": {"one": [""" + Transform + """], "two": [""" + Llm + "]}}}]")));

    [Fact]
    public void TheAnswerIsKeptPerDefinition()
    {
        var workflow = TestWorkflows.WithSteps($"[{Llm}]");
        Assert.True(NetworkSteps.CallsOut(workflow));
        Assert.True(NetworkSteps.CallsOut(workflow));
        Assert.False(NetworkSteps.CallsOut(TestWorkflows.WithSteps($"[{Transform}]")));
    }
}
