using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Engine.Fakes;
using static LlmWorkflow.Tests.Engine.TestWorkflows;

namespace LlmWorkflow.Tests.Engine;

[UnitTest]
public sealed class WorkflowRunnerErrorHandlingTests
{
    private static readonly WorkflowRunOptions Options = new() { RunId = "run-1" };

    /// <summary>Fails the first <paramref name="failures"/> calls of operation "flaky" with a retryable external error.</summary>
    private static FakeExternalServiceGateway Flaky(int failures)
    {
        var calls = 0;
        return new FakeExternalServiceGateway((operation, parameters, ct) =>
            operation == "flaky" && Interlocked.Increment(ref calls) <= failures
                ? throw WorkflowException.External("upstream_down", "Service unavailable", retryable: true)
                : FakeExternalServiceGateway.Echo(operation, parameters, ct));
    }

    [Fact]
    public async Task FailStopsTheRunKeepsPartialRecordsAndNamesTheStep()
    {
        var workflow = WithSteps($"[{Call("ok", "ok")}, {Call("bad", "flaky", extra: "\"on_error\": \"fail\",")}, {Call("never", "never")}]");

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: Flaky(1)).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Failed, result.Status);
        Assert.Equal(("upstream_down", ErrorCategory.ExternalError, "bad"), (result.Error!.Type, result.Error.Category, result.Error.StepId));
        Assert.Equal([("ok", StepStatus.Completed), ("bad", StepStatus.Failed)], result.Steps.Select(s => (s.StepId, s.Status)));
        Assert.Null(result.Output);
    }

    [Fact]
    public async Task ContinueRecordsTheErrorAndGoesOnWithANullOutput()
    {
        var workflow = WithSteps($$"""[{{Call("bad", "flaky", extra: "\"on_error\": \"continue\",")}}, {{Call("next", "next", """{"prev": "${steps.bad.output}"}""")}}]""");

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: Flaky(1)).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        var bad = result.Steps[0];
        Assert.Equal((StepStatus.ContinuedAfterError, "upstream_down"), (bad.Status, bad.Error!.Type));
        Assert.Equal("""{"prev":null}""", result.Output!["params"]!.ToJsonString());
    }

    [Fact]
    public async Task DefaultUsesTheConfiguredValue()
    {
        var workflow = WithSteps(Call("bad", "flaky", extra: """ "on_error": {"mode": "default", "value": {"fallback": true}}, """).Insert(0, "[") + "]");

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: Flaky(5)).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal(StepStatus.Defaulted, result.Steps[0].Status);
        Assert.Equal("""{"fallback":true}""", result.Output!.ToJsonString());
    }

    [Fact]
    public async Task RetryRunsAgainUntilTheCallSucceeds()
    {
        var workflow = WithSteps("[" + Call("bad", "flaky", extra: """ "on_error": {"mode": "retry", "max_attempts": 3, "backoff_seconds": 0.01}, """) + "]");

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: Flaky(2)).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal((StepStatus.Completed, 3, null), (result.Steps[0].Status, result.Steps[0].Attempts, result.Steps[0].Error));
    }

    [Fact]
    public async Task RetryGivesUpAfterMaxAttempts()
    {
        var workflow = WithSteps("[" + Call("bad", "flaky", extra: """ "on_error": {"mode": "retry", "max_attempts": 2, "backoff_seconds": 0.01}, """) + "]");
        var gateway = Flaky(5);

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: gateway).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Failed, result.Status);
        Assert.Equal(2, result.Steps[0].Attempts);
        Assert.Equal(2, gateway.Calls.Count);
    }

    [Fact]
    public async Task RetryDoesNotRepeatUserErrors()
    {
        var workflow = WithSteps("[" + Call("bad", "x", """{"v": "${input.missing}"}""", """ "on_error": {"mode": "retry", "backoff_seconds": 0.01}, """) + "]");

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: new FakeExternalServiceGateway()).RunAsync(workflow, new JsonObject(), Options, TestContext.Current.CancellationToken);

        Assert.Equal((WorkflowRunStatus.Failed, ErrorCategory.UserError, 1), (result.Status, result.Error!.Category, result.Steps[0].Attempts));
    }

    [Fact]
    public async Task StepTimeoutFailsWithARetryableTimeoutError()
    {
        var workflow = WithSteps("[" + Call("slow", "hang", extra: "\"timeout_seconds\": 0.05,") + "]");
        var gateway = new FakeExternalServiceGateway(async (_, _, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return null;
        });

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: gateway).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Failed, result.Status);
        Assert.Equal(("timeout", ErrorCategory.ExternalError, true, "slow"), (result.Error!.Type, result.Error.Category, result.Error.Retryable, result.Error.StepId));
        Assert.NotEmpty(result.Error.Suggestions);
    }

    [Fact]
    public async Task WorkflowTimeoutFailsTheRun()
    {
        var workflow = WithSteps("[" + Call("slow", "hang") + "]", "\"timeout_seconds\": 0.05,");
        var gateway = new FakeExternalServiceGateway(async (_, _, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return null;
        });

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: gateway).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        Assert.Equal((WorkflowRunStatus.Failed, "workflow_timeout", ErrorCategory.SystemError), (result.Status, result.Error!.Type, result.Error.Category));
    }

    [Fact]
    public async Task CancellationEndsTheRunAsCancelledNotFailed()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var workflow = WithSteps($"[{Call("first", "first")}, {Call("slow", "hang")}]");
        var gateway = new FakeExternalServiceGateway(async (operation, parameters, ct) =>
        {
            if (operation == "hang")
            {
                await cts.CancelAsync();
                await Task.Delay(Timeout.Infinite, ct);
            }

            return await FakeExternalServiceGateway.Echo(operation, parameters, ct);
        });
        var sink = new RecordingProgressSink();

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: gateway).RunAsync(workflow, null, Options with { Progress = sink }, cts.Token);

        Assert.Equal((WorkflowRunStatus.Cancelled, "cancelled"), (result.Status, result.Error!.Type));
        Assert.Equal(["first"], result.Steps.Select(s => s.StepId));
        Assert.True(Assert.IsType<RunFailed>(sink.Events[^1]).Cancelled);
    }

    [Fact]
    public async Task ErrorDetailsAreSanitized()
    {
        var workflow = WithSteps("[" + Call("bad", "flaky", """{"api_key": "sk-123", "query": "weather"}""") + "]");

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: Flaky(1)).RunAsync(workflow, null, Options, TestContext.Current.CancellationToken);

        var config = result.Error!.Details!["config"]!;
        Assert.Equal(ErrorSanitizer.Redacted, config["params"]!["api_key"]!.GetValue<string>());
        Assert.Equal("weather", config["params"]!["query"]!.GetValue<string>());
    }

    [Fact]
    public async Task ACheckpointedRunResumesWithoutRepeatingFinishedSteps()
    {
        var store = new InMemoryCheckpointStore();
        var workflow = WithSteps($$"""[{{Call("a", "a")}}, {{Call("b", "flaky", """{"prev": "${steps.a.output.operation}"}""")}}]""");
        var gateway = Flaky(1);
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), external: gateway);
        var options = Options with { Checkpoints = store };

        var first = await runner.RunAsync(workflow, null, options, TestContext.Current.CancellationToken);
        var second = await runner.RunAsync(workflow, null, options, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Failed, first.Status);
        Assert.Equal(WorkflowRunStatus.Completed, second.Status);
        Assert.Equal(["a", "flaky", "flaky"], gateway.Calls.Select(c => c.Operation));
        Assert.True(second.Steps[0].FromCheckpoint);
        Assert.Equal("a", second.Output!["params"]!["prev"]!.GetValue<string>());
    }

    [Fact]
    public async Task OnlyTheLastTopLevelStepIsSavedAsEndingTheRun()
    {
        var store = new InMemoryCheckpointStore();
        var fan = $$$"""{"id": "fan", "type": "parallel", "config": {"mode": "wait_all", "branches": {"x": [{{{Call("inner", "b")}}}] } } }""";
        var workflow = WithSteps($"[{Call("first", "a")}, {fan}, {Call("last", "c")}]");

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: new FakeExternalServiceGateway())
            .RunAsync(workflow, null, Options with { Checkpoints = store }, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        var saved = new List<(string, bool)>();
        foreach (var key in result.Steps.Select(s => s.StepKey))
        {
            if (await store.TryGetAsync("run-1", key, TestContext.Current.CancellationToken) is { } checkpoint)
            {
                saved.Add((key, checkpoint.EndsRun));
            }
        }

        Assert.Equal([("first", false), ("inner", false), ("last", true)], saved.OrderBy(s => s.Item1 == "last").ThenBy(s => s.Item1));
    }
}
