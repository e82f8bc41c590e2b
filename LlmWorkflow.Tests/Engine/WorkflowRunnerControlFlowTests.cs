using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Engine.Fakes;
using static LlmWorkflow.Tests.Engine.TestWorkflows;

namespace LlmWorkflow.Tests.Engine;

[UnitTest]
public sealed class WorkflowRunnerControlFlowTests
{
    private static readonly WorkflowRunOptions Options = new() { RunId = "run-1" };

    [Fact]
    public async Task SequentialStepsSeeEarlierOutputsAndTheOutputTemplateIsResolved()
    {
        var workflow = WithSteps(
            $"[{Call("a", "first", """{"city": "${input.city}"}""")}, {Call("b", "second", """{"from": "${steps.a.output.params.city}"}""")}]",
            """ "output": {"result": "${steps.b.output.params.from}", "n": "${input.n}"}, """);
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), external: new FakeExternalServiceGateway());

        var result = await runner.RunAsync(workflow, JsonNode.Parse("""{"city": "Oslo", "n": 3}"""), Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal("""{"result":"Oslo","n":3}""", result.Output!.ToJsonString());
        Assert.Equal(["a", "b"], result.Steps.Select(s => s.StepId));
        Assert.All(result.Steps, s => Assert.Equal(StepStatus.Completed, s.Status));
    }

    [Theory]
    [InlineData(5, "then", "big", "small")]
    [InlineData(1, "else", "small", "big")]
    public async Task ConditionalRunsOneBranchAndRecordsTheOtherAsSkipped(int n, string branch, string ran, string skipped)
    {
        var workflow = WithSteps($$"""
            [{"id": "check", "type": "conditional", "config": {
                "condition": "input.n > 3",
                "then": [{{Call("big", "big")}}],
                "else": [{{Call("small", "small")}}] } }]
            """);
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), external: new FakeExternalServiceGateway());

        var result = await runner.RunAsync(workflow, new JsonObject { ["n"] = n }, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal(branch, result.Output!["branch"]!.GetValue<string>());
        Assert.Equal(ran, result.Output!["output"]!["operation"]!.GetValue<string>());
        Assert.Equal(StepStatus.Skipped, result.Steps.Single(s => s.StepId == skipped).Status);
        var ranRecord = result.Steps.Single(s => s.StepId == ran);
        Assert.Equal((StepStatus.Completed, "check", branch), (ranRecord.Status, ranRecord.ParentStepId, ranRecord.Branch));
    }

    [Fact]
    public async Task ParallelCollectsBranchOutputsByIdAndHonoursTheConcurrencyLimit()
    {
        var branches = string.Join(", ", Enumerable.Range(0, 6).Select(i => $$"""
            "b{{i}}": [{{Call($"first{i}", $"op{i}")}}, {{Call($"second{i}", $"op{i}", $$"""{"prev": "${steps.first{{i}}.output.operation}"}""")}}]
            """));
        var workflow = WithSteps($$"""[{"id": "fan", "type": "parallel", "config": {"max_concurrency": 2, "branches": { {{branches}} } } }]""");
        var gateway = new FakeExternalServiceGateway(async (operation, parameters, ct) =>
        {
            await Task.Delay(20, ct);
            return await FakeExternalServiceGateway.Echo(operation, parameters, ct);
        });

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: gateway).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"b{i}"), result.Output!.AsObject().Select(p => p.Key));
        Assert.Equal("op4", result.Output!["b4"]!["params"]!["prev"]!.GetValue<string>());
        Assert.Equal(2, gateway.MaxConcurrent);
    }

    [Fact]
    public async Task ParallelFailFastCancelsTheOtherBranches()
    {
        var workflow = WithSteps($$"""
            [{"id": "fan", "type": "parallel", "config": {"mode": "fail_fast", "branches": {
                "slow": [{{Call("slow", "hang")}}],
                "bad": [{{Call("bad", "boom")}}] } } }]
            """);
        var gateway = new FakeExternalServiceGateway(async (operation, parameters, ct) =>
        {
            if (operation == "boom")
            {
                throw WorkflowException.External("upstream_down", "boom", retryable: false);
            }

            await Task.Delay(Timeout.Infinite, ct);
            return null;
        });

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: gateway).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Failed, result.Status);
        Assert.Equal(("upstream_down", "bad"), (result.Error!.Type, result.Error.StepId));
        Assert.Equal(StepStatus.Failed, result.Steps.Single(s => s.StepId == "fan").Status);
        Assert.DoesNotContain(result.Steps, s => s.StepId == "slow");
    }

    [Fact]
    public async Task ParallelWaitAllLetsOtherBranchesFinish()
    {
        var workflow = WithSteps($$"""
            [{"id": "fan", "type": "parallel", "config": {"mode": "wait_all", "branches": {
                "bad": [{{Call("bad", "boom")}}],
                "good": [{{Call("good", "fine")}}] } } }]
            """);
        var gateway = new FakeExternalServiceGateway(async (operation, parameters, ct) =>
        {
            await Task.Yield();
            return operation == "boom"
                ? throw WorkflowException.External("upstream_down", "boom", retryable: false)
                : await FakeExternalServiceGateway.Echo(operation, parameters, ct);
        });

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: gateway).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Failed, result.Status);
        Assert.Equal(StepStatus.Completed, result.Steps.Single(s => s.StepId == "good").Status);
    }

    [Fact]
    public async Task ForEachKeepsItemOrderUniqueKeysAndTheConcurrencyLimit()
    {
        var workflow = WithSteps($$"""
            [{"id": "each", "type": "for_each", "config": {"items": "${input.items}", "max_concurrency": 3, "steps": [
                {{Call("fetch", "get", """{"item": "${item}", "index": "${index}"}""")}},
                {{Call("shape", "shape", """{"name": "${steps.fetch.output.params.item}"}""")}}] } }]
            """);
        var gateway = new FakeExternalServiceGateway(async (operation, parameters, ct) =>
        {
            // Later items answer sooner, so completion order differs from item order.
            if (operation == "get")
            {
                await Task.Delay(10 * (8 - parameters["index"]!.GetValue<int>()), ct);
            }

            return await FakeExternalServiceGateway.Echo(operation, parameters, ct);
        });
        var items = new JsonArray([.. Enumerable.Range(0, 8).Select(i => JsonValue.Create($"item{i}"))]);

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: gateway).RunAsync(workflow, new JsonObject { ["items"] = items }, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"item{i}"), result.Output!.AsArray().Select(o => o!["params"]!["name"]!.GetValue<string>()));
        Assert.Equal(3, gateway.MaxConcurrent);
        Assert.Contains(result.Steps, s => s.StepKey == "each[7]/shape" && s.ParentStepId == "each" && s.Branch == "7");
        Assert.Equal(17, result.Steps.Select(s => s.StepKey).Distinct().Count());
    }

    [Fact]
    public async Task ForEachOverANonArrayFailsWithAUserError()
    {
        var workflow = WithSteps($$"""[{"id": "each", "type": "for_each", "config": {"items": "${input.items}", "steps": [{{Call("x", "x")}}] } }]""");

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: new FakeExternalServiceGateway()).RunAsync(
            workflow, JsonNode.Parse("""{"items": "nope"}"""), Options, TestContext.Current.CancellationToken);

        Assert.Equal((WorkflowRunStatus.Failed, "for_each_items_not_array", ErrorCategory.UserError), (result.Status, result.Error!.Type, result.Error.Category));
    }

    [Fact]
    public async Task ProgressEventsArriveInOrderWithPercentages()
    {
        var workflow = WithSteps($"[{Call("a", "a")}, {Call("b", "b")}]");
        var sink = new RecordingProgressSink();

        await new WorkflowRunner(TransformRegistry.CreateDefault(), external: new FakeExternalServiceGateway()).RunAsync(
            workflow, null, Options with { Progress = sink }, TestContext.Current.CancellationToken);

        Assert.Equal(
            ["run_started", "step_started:a:0", "step_completed:a:completed:50", "step_started:b:50", "step_completed:b:completed:100", "run_completed"],
            sink.Describe());
        var started = Assert.IsType<StepStarted>(sink.Events[3]);
        Assert.Equal((1, 2, "b"), (started.Index, started.Total, started.DisplayName));
    }
}
