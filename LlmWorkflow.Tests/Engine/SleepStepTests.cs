using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// The <c>sleep</c> step in the engine: it parks the run with its time (Waiting), the steps before it checkpointed; the
/// resumed run keeps the time first worked out (a relative sleep does not start again), skips the finished steps and
/// completes; a time already past completes at once; a sleep needs exactly one of seconds and until (at any depth: a nested bad one is named by its own path),
/// and at most a year (as run_at and delay_seconds), checked in the definition where it is literal and at run time where not.
/// </summary>
[UnitTest]
public sealed class SleepStepTests
{
    private static readonly string Steps = """
        [
          {"id": "before", "type": "transform", "config": {"operation": "template", "template": "before ${input.name}"}},
          {"id": "nap", "type": "sleep", "config": {"seconds": "${input.seconds}"}},
          {"id": "after", "type": "transform", "config": {"operation": "template", "template": "${steps.before.output} and after"}}
        ]
        """;

    [Fact]
    public async Task ASleepParksTheRunAndTheResumedRunKeepsItsTimeAndSkipsFinishedSteps()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 27, 9, 0, 0, TimeSpan.Zero));
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), time: clock);
        var workflow = TestWorkflows.WithSteps(Steps);
        var checkpoints = new InMemoryCheckpointStore();
        var input = new JsonObject { ["name"] = "ada", ["seconds"] = 3600 };

        var first = await runner.RunAsync(workflow, input, new WorkflowRunOptions { RunId = "job-1", Checkpoints = checkpoints }, ct);
        Assert.True(first.Status == WorkflowRunStatus.Waiting, first.Error?.ToString());
        Assert.Equal(new RunWait("nap", "nap", "sleep", clock.GetUtcNow().AddHours(1)), first.Wait);
        Assert.Equal(["before"], first.Steps.Select(s => s.StepId));

        // Woken a little early (another clock), then on time: the time stays the one first worked out.
        clock.Advance(TimeSpan.FromMinutes(59));
        var early = await runner.RunAsync(workflow, input, new WorkflowRunOptions { RunId = "job-1", Checkpoints = checkpoints, ResumedWait = first.Wait }, ct);
        Assert.Equal(WorkflowRunStatus.Waiting, early.Status);
        Assert.Equal(first.Wait, early.Wait);

        clock.Advance(TimeSpan.FromMinutes(1));
        var resumed = await runner.RunAsync(workflow, input, new WorkflowRunOptions { RunId = "job-1", Checkpoints = checkpoints, ResumedWait = first.Wait }, ct);
        Assert.Equal(WorkflowRunStatus.Completed, resumed.Status);
        Assert.Equal("before ada and after", resumed.Output?.GetValue<string>());
        Assert.Equal(["nap", "after"], resumed.Steps.Select(s => s.StepId).Where(id => id != "before"));
        Assert.Equal(first.Wait!.Until.ToString("O"), (string?)resumed.Steps.Single(s => s.StepId == "nap").Output?["slept_until"]);
    }

    [Fact]
    public async Task ATimeAlreadyPastCompletesAtOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault());
        var workflow = TestWorkflows.WithSteps("""[{"id": "nap", "type": "sleep", "config": {"until": "${input.at}"}}]""");

        var result = await runner.RunAsync(workflow, new JsonObject { ["at"] = "2020-01-01T00:00:00Z" }, new WorkflowRunOptions { RunId = "job-2" }, ct);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        var bad = await runner.RunAsync(workflow, new JsonObject { ["at"] = "2030-01-01T00:00:00" }, new WorkflowRunOptions { RunId = "job-3" }, ct);
        Assert.Equal(WorkflowRunStatus.Failed, bad.Status);
        Assert.Contains("offset", bad.Error!.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("seconds", """{"seconds": "${input.at}"}""", "315360000")]
    [InlineData("until", """{"until": "${input.at}"}""", "\"2036-11-27T09:00:00Z\"")]
    public async Task ASleepOfMoreThanAYearFailsItsStepNamingTheLimit(string field, string config, string atJson)
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 27, 9, 0, 0, TimeSpan.Zero));
        var runner = new WorkflowRunner(TransformRegistry.CreateDefault(), time: clock);
        var workflow = TestWorkflows.WithSteps($$"""[{"id": "nap", "type": "sleep", "config": {{config}}}]""");
        var input = JsonNode.Parse($$"""{"at": {{atJson}}}""")!.AsObject();

        var result = await runner.RunAsync(workflow, input, new WorkflowRunOptions { RunId = "job-year-" + field }, ct);

        Assert.Equal(WorkflowRunStatus.Failed, result.Status);
        Assert.Contains(field, result.Error!.Message, StringComparison.Ordinal);
        Assert.Contains("a year", result.Error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"id": "nap", "type": "sleep", "config": {}}]""", "$.steps[0].config")]
    [InlineData("""[{"id": "nap", "type": "sleep", "config": {"seconds": 5, "until": "2030-01-01T00:00:00Z"}}]""", "$.steps[0].config")]
    [InlineData("""[{"id": "nap", "type": "sleep", "config": {"seconds": -1}}]""", "$.steps[0].config.seconds")]
    [InlineData("""[{"id": "nap", "type": "sleep", "config": {"seconds": 5, "minutes": 1}}]""", "$.steps[0].config.minutes")]
    [InlineData("""[{"id": "nap", "type": "sleep", "config": {"seconds": 315360000}}]""", "$.steps[0].config.seconds")]
    [InlineData("""[{"id": "hold", "type": "wait_for_event", "config": {"event": "go", "timeout_seconds": 31536001}}]""", "$.steps[0].config.timeout_seconds")]
    [InlineData("""[{"id": "p", "type": "parallel", "config": {"branches": {"a": [{"id": "nap", "type": "sleep", "config": {"seconds": -5}}]}}}]""", "$.steps[0].config.branches.a[0].config.seconds")]
    public void ABadSleepIsRefusedNamingItsField(string steps, string path)
    {
        var problems = new WorkflowValidator().Validate(TestWorkflows.WithSteps(steps), "sleep.json");
        Assert.Contains(problems, p => p.JsonPath == path);
    }
}
