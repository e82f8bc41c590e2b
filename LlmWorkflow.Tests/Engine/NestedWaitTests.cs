using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// Sleeps, waits and approvals inside <c>parallel</c> branches and <c>for_each</c> bodies (issue 80, item 8): the
/// validator accepts them; blocks that do not wait run to completion and the run parks once on every block's wait
/// (woken by the earliest time); on resume finished blocks come back from their checkpoints and each wait keeps the
/// time it first worked out (an iteration woken for another's sleep does not sleep again from the start); waits for
/// different events in different branches each take their own signal; same-event approvals take their decisions in
/// order, the one shown first, and one re-parked keeps its nonce (its links stay good); a failure wins over a park.
/// </summary>
[UnitTest]
public sealed class NestedWaitTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 29, 8, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("""{"id": "nap", "type": "sleep", "config": {"seconds": 5}}""")]
    [InlineData("""{"id": "hold", "type": "wait_for_event", "config": {"event": "go"}}""")]
    [InlineData("""{"id": "ok", "type": "approval", "config": {"prompt": "Fine?"}}""")]
    public void AWaitInsideAParallelBranchOrAForEachBodyIsValid(string wait)
    {
        var validator = new WorkflowValidator();
        var inParallel = TestWorkflows.WithSteps("""[{"id": "p", "type": "parallel", "config": {"branches": {"a": [""" + wait + """], "b": [{"id": "t", "type": "transform", "config": {"operation": "template", "template": "x"}}]}}}]""");
        var inLoop = TestWorkflows.WithSteps($$$"""[{"id": "each", "type": "for_each", "config": {"items": "${input.items}", "steps": [{{{wait}}}]}}]""");

        Assert.Empty(validator.Validate(inParallel, "p.json"));
        Assert.Empty(validator.Validate(inLoop, "l.json"));
    }

    [Fact]
    public async Task ASleepInOneBranchParksOnceAfterTheOtherBranchFinishedWhichIsNotRunAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new ManualClock(Start);
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), time: clock);
        var workflow = TestWorkflows.WithSteps("""
            [{"id": "p", "type": "parallel", "config": {"branches": {
               "work": [{"id": "shout", "type": "transform", "config": {"operation": "template", "template": "hi ${input.name}"}}],
               "rest": [{"id": "nap", "type": "sleep", "config": {"seconds": 60}}, {"id": "after", "type": "transform", "config": {"operation": "template", "template": "rested"}}]}}}]
            """);
        var checkpoints = new InMemoryCheckpointStore();
        var input = new JsonObject { ["name"] = "ada" };

        var first = await runner.RunAsync(workflow, input, Options(checkpoints, null), ct);
        Assert.True(first.Status == WorkflowRunStatus.Waiting, first.Error?.ToString());
        Assert.Equal(new RunWait("nap", "nap", "sleep", Start.AddSeconds(60)), first.Wait);
        Assert.Equal(["shout"], first.Steps.Select(s => s.StepId));

        clock.Advance(TimeSpan.FromSeconds(60));
        var resumed = await runner.RunAsync(workflow, input, Options(checkpoints, first.Wait), ct);
        Assert.Equal(WorkflowRunStatus.Completed, resumed.Status);
        Assert.Equal("hi ada", (string?)resumed.Output!["work"]);
        Assert.Equal("rested", (string?)resumed.Output["rest"]);
        Assert.True(resumed.Steps.Single(s => s.StepId == "shout").FromCheckpoint, "the finished branch ran again");
    }

    [Fact]
    public async Task EachIterationKeepsItsOwnSleepAndOneWokenEarlyDoesNotSleepAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new ManualClock(Start);
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), time: clock);
        var workflow = TestWorkflows.WithSteps("""[{"id": "each", "type": "for_each", "config": {"items": "${input.items}", "steps": [{"id": "nap", "type": "sleep", "config": {"seconds": "${item}"}}]}}]""");
        var checkpoints = new InMemoryCheckpointStore();
        var input = new JsonObject { ["items"] = new JsonArray(10, 20, 30) };

        var first = await runner.RunAsync(workflow, input, Options(checkpoints, null), ct);
        Assert.Equal(WorkflowRunStatus.Waiting, first.Status);
        Assert.Equal(Start.AddSeconds(10), first.Wait!.Until);
        Assert.Equal(["each[0]/nap", "each[1]/nap", "each[2]/nap"], first.Wait.Pending!.Select(w => w.StepKey));

        // Woken for iteration 0: iterations 1 and 2 park again on the times first worked out, not 20 and 30 s from now.
        clock.Advance(TimeSpan.FromSeconds(10));
        var second = await runner.RunAsync(workflow, input, Options(checkpoints, first.Wait), ct);
        Assert.Equal(WorkflowRunStatus.Waiting, second.Status);
        Assert.Equal(Start.AddSeconds(20), second.Wait!.Until);
        Assert.Equal([Start.AddSeconds(20), Start.AddSeconds(30)], second.Wait.Pending!.Select(w => w.Until));

        clock.Advance(TimeSpan.FromSeconds(20));
        var done = await runner.RunAsync(workflow, input, Options(checkpoints, second.Wait), ct);
        Assert.Equal(WorkflowRunStatus.Completed, done.Status);
        Assert.Equal([10, 20, 30], done.Output!.AsArray().Select(o => (int)(DateTimeOffset.Parse((string)o!["slept_until"]!) - Start).TotalSeconds));
    }

    [Fact]
    public async Task WaitsForDifferentEventsInDifferentBranchesEachTakeTheirOwnSignal()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new ManualClock(Start);
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), time: clock);
        var workflow = TestWorkflows.WithSteps("""
            [{"id": "p", "type": "parallel", "config": {"branches": {
               "a": [{"id": "hold_a", "type": "wait_for_event", "config": {"event": "go_a", "timeout_seconds": 600}}],
               "b": [{"id": "hold_b", "type": "wait_for_event", "config": {"event": "go_b", "timeout_seconds": 300}}]}}}]
            """);
        var checkpoints = new InMemoryCheckpointStore();
        var inbox = new ListInbox();

        var first = await runner.RunAsync(workflow, null, Options(checkpoints, null, inbox), ct);
        Assert.Equal(("hold_a", "go_a", Start.AddSeconds(300)), (first.Wait!.StepId, first.Wait.Event, first.Wait.Until));
        Assert.Equal(["go_a", "go_b"], first.Wait.Events);

        inbox.Send("go_b", new JsonObject { ["b"] = 1 });
        clock.Advance(TimeSpan.FromSeconds(5));
        var second = await runner.RunAsync(workflow, null, Options(checkpoints, first.Wait, inbox), ct);
        Assert.Equal(new RunWait("hold_a", "hold_a", "event", Start.AddSeconds(600), "go_a"), second.Wait);

        inbox.Send("go_a", new JsonObject { ["a"] = 2 });
        var done = await runner.RunAsync(workflow, null, Options(checkpoints, second.Wait, inbox), ct);
        Assert.Equal(WorkflowRunStatus.Completed, done.Status);
        Assert.Equal("""{"a":{"a":2},"b":{"b":1}}""", done.Output!.ToJsonString());
    }

    [Fact]
    public async Task ApprovalsInAForEachTakeTheirDecisionsInOrderAndKeepTheirNonces()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new ManualClock(Start);
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), time: clock);
        var workflow = TestWorkflows.WithSteps("""[{"id": "each", "type": "for_each", "config": {"items": "${input.items}", "steps": [{"id": "ok", "type": "approval", "config": {"prompt": "Ship ${item}?", "show": "${item}"}}]}}]""");
        var checkpoints = new InMemoryCheckpointStore();
        var inbox = new ListInbox();
        var input = new JsonObject { ["items"] = new JsonArray("red", "blue") };

        var first = await runner.RunAsync(workflow, input, Options(checkpoints, null, inbox), ct);
        Assert.Equal(("each[0]/ok", "Ship red?"), (first.Wait!.StepKey, (string?)first.Wait.Approval!["prompt"]));
        var blueNonce = (string?)first.Wait.Pending![1].Approval!["nonce"];

        inbox.Send("approval", new JsonObject { ["approved"] = true, ["comment"] = "red is fine" });
        var second = await runner.RunAsync(workflow, input, Options(checkpoints, first.Wait, inbox), ct);
        Assert.Equal(("each[1]/ok", "Ship blue?", blueNonce), (second.Wait!.StepKey, (string?)second.Wait.Approval!["prompt"], (string?)second.Wait.Approval["nonce"]));

        inbox.Send("approval", new JsonObject { ["approved"] = false, ["comment"] = "not blue" });
        var done = await runner.RunAsync(workflow, input, Options(checkpoints, second.Wait, inbox), ct);
        Assert.Equal(WorkflowRunStatus.Completed, done.Status);
        Assert.Equal(["red is fine", "not blue"], done.Output!.AsArray().Select(d => (string?)d!["comment"]));
    }

    [Fact]
    public async Task AnApprovalInALoopInsideABranchIsShownWholeAndThePendingOnesKeepOnlyTheirNonces()
    {
        var ct = TestContext.Current.CancellationToken;
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), time: new ManualClock(Start));
        var workflow = TestWorkflows.WithSteps("""
            [{"id": "p", "type": "parallel", "config": {"branches": {
               "nap": [{"id": "nap", "type": "sleep", "config": {"seconds": 10}}],
               "ask": [{"id": "each", "type": "for_each", "config": {"items": "${input.items}", "steps": [{"id": "ok", "type": "approval", "config": {"prompt": "Ship ${item}?", "show": "${item}", "timeout_seconds": 60}}]}}]}}}]
            """);

        var result = await runner.RunAsync(workflow, new JsonObject { ["items"] = new JsonArray("x", "y") }, Options(new InMemoryCheckpointStore(), null), ct);

        var wait = result.Wait!;
        Assert.Equal(("each[0]/ok", "Ship x?", "x", Start.AddSeconds(10)), (wait.StepKey, (string?)wait.Approval!["prompt"], (string?)wait.Approval["show"], wait.Until));
        Assert.Equal(["nap", "each[0]/ok", "each[1]/ok"], wait.Pending!.Select(w => w.StepKey));
        Assert.Equal(Start.AddSeconds(60), wait.Of("each[0]/ok")!.Until);
        Assert.All(wait.Pending!.Where(w => w.Approval is not null), w => Assert.Equal(["nonce"], w.Approval!.Select(p => p.Key)));
    }

    [Fact]
    public async Task AFailingBranchFailsTheRunThoughAnotherParked()
    {
        var ct = TestContext.Current.CancellationToken;
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), time: new ManualClock(Start));
        var workflow = TestWorkflows.WithSteps("""
            [{"id": "p", "type": "parallel", "config": {"mode": "wait_all", "branches": {
               "nap": [{"id": "nap", "type": "sleep", "config": {"seconds": 60}}],
               "bad": [{"id": "bad", "type": "for_each", "config": {"items": "${input.missing}", "steps": [{"id": "t", "type": "transform", "config": {"operation": "template", "template": "x"}}]}}]}}}]
            """);

        var result = await runner.RunAsync(workflow, new JsonObject(), Options(new InMemoryCheckpointStore(), null), ct);

        Assert.Equal(WorkflowRunStatus.Failed, result.Status);
        Assert.Equal("bad", result.Error!.StepId);
    }

    private static WorkflowRunOptions Options(ICheckpointStore checkpoints, RunWait? resumed, ISignalInbox? inbox = null) =>
        new() { RunId = "job-nested", Checkpoints = checkpoints, ResumedWait = resumed, Signals = inbox };

    /// <summary>A job's inbox in memory: the oldest untaken signal of an event, once; the same step asking again gets its own back.</summary>
    private sealed class ListInbox : ISignalInbox
    {
        private readonly List<Sent> _sent = [];
        private readonly Lock _lock = new();

        public void Send(string eventName, JsonNode? payload)
        {
            lock (_lock)
            {
                _sent.Add(new Sent(eventName, payload));
            }
        }

        public ValueTask<RunSignal?> TakeAsync(string runId, string eventName, string stepKey, CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                var signal = _sent.FirstOrDefault(s => s.TakenBy == stepKey) ?? _sent.FirstOrDefault(s => s.Event == eventName && s.TakenBy is null);
                if (signal is null)
                {
                    return ValueTask.FromResult<RunSignal?>(null);
                }

                signal.TakenBy = stepKey;
                return ValueTask.FromResult<RunSignal?>(new RunSignal(signal.Payload));
            }
        }

        private sealed record Sent(string Event, JsonNode? Payload)
        {
            public string? TakenBy { get; set; }
        }
    }
}
