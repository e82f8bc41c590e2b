using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Engine.Fakes;
using static LlmWorkflow.Tests.Engine.TestWorkflows;

namespace LlmWorkflow.Tests.Engine;

/// <summary>Document 001's taxonomy: SYSTEM_ERROR is not retryable, neither by on_error retry nor in what callers are told.</summary>
[UnitTest]
public sealed class SystemErrorTaxonomyTests
{
    [Fact]
    public async Task AnUnexpectedFailureIsASystemErrorThatIsNotRetriedAndSaysSo()
    {
        var calls = 0;
        var gateway = new FakeExternalServiceGateway((_, _, _) =>
        {
            Interlocked.Increment(ref calls);
            throw new InvalidOperationException("boom");
        });
        var workflow = WithSteps("[" + Call("bad", "x", extra: """ "on_error": {"mode": "retry", "max_attempts": 3, "backoff_seconds": 0.01}, """) + "]");

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault(), external: gateway)
            .RunAsync(workflow, null, new WorkflowRunOptions { RunId = "run-system" }, TestContext.Current.CancellationToken);

        Assert.Equal((WorkflowRunStatus.Failed, ErrorCategory.SystemError), (result.Status, result.Error!.Category));
        Assert.Equal(1, calls);
        Assert.Equal(1, result.Steps[0].Attempts);
        Assert.False((bool)JobErrors.ToJson(result.Error)["retryable"]!);
    }

    [Fact]
    public void ASystemErrorIsNeverReportedRetryable()
    {
        var error = new WorkflowError { Type = "x", Category = ErrorCategory.SystemError, Message = "m", Retryable = true };
        Assert.False((bool)JobErrors.ToJson(error)["retryable"]!);
    }
}
