using System.Text.Json.Nodes;
using LlmWorkflow.Cli;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Cli;

/// <summary><c>llmwf run</c> in-process: every shipped workflow with --mock, result JSON, plain progress, input errors.</summary>
[SystemTest]
public sealed class RunCommandTests : IDisposable
{
    private readonly TempWorkflows _project = new();

    /// <summary>Every definition in workflows/definitions; each runs with its sample input from workflows/examples when there is one.</summary>
    public static TheoryData<string> ShippedWorkflows() =>
        [.. Directory.EnumerateFiles(Path.Combine(RepositoryPaths.Workflows, "definitions"), "*.json").Select(path => Path.GetFileNameWithoutExtension(path)).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(ShippedWorkflows))]
    public async Task EveryShippedWorkflowRunsWithMock(string workflow)
    {
        var example = Path.Combine(RepositoryPaths.Workflows, "examples", workflow + ".json");
        string[] input = File.Exists(example) ? ["--input", example] : [];
        // The shipped workflows that wait for a person or a payment are given it, as their README shows (support_agent's
        // refund tool asks for approval).
        string[] signal = workflow switch
        {
            "content_approval" => ["--signal", """approval={"approved": true, "comment": "Ship it."}"""],
            "order_payment" => ["--signal", """payment.received={"paid": true, "payment_id": "pay_8QX2"}"""],
            "support_agent" => ["--signal", """approval={"approved": true, "comment": "damaged on arrival"}"""],
            _ => [],
        };

        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, ["run", workflow, "--mock", "--json", .. input, .. signal]);

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal("completed", (string?)result.Json["status"]);
    }

    [Fact]
    public async Task SleepsAreSleptAndWaitsTakeTheSignalsGivenWithSignal()
    {
        _project.Definition("waits.json", """
            {"name": "waits", "steps": [
              {"id": "nap", "type": "sleep", "config": {"seconds": 1}},
              {"id": "approve", "type": "wait_for_event", "config": {"event": "approval", "timeout_seconds": 60}},
              {"id": "verdict", "type": "transform", "config": {"operation": "template", "template": "approved: ${steps.approve.output.approved}"}}
            ]}
            """);
        var started = DateTimeOffset.UtcNow;

        var result = await CliHarness.RunAsync(_project.Root, "run", "waits", "--input", "{}", "--signal", """approval={"approved": true}""", "--json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal("approved: true", (string?)result.Json["output"]);
        Assert.True(DateTimeOffset.UtcNow - started >= TimeSpan.FromSeconds(1), "the sleep was not slept");
        Assert.Contains("Sleeping at step \"nap\"", result.Error, StringComparison.Ordinal);
        Assert.Equal(["nap", "approve", "verdict"], result.Json["steps"]!.AsArray().Select(s => (string?)s!["step_id"]));

        var bad = await CliHarness.RunAsync(_project.Root, "run", "waits", "--input", "{}", "--signal", "approval={not json");
        Assert.Equal(ExitCodes.UsageError, bad.ExitCode);
        Assert.Contains("--signal approval", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AControlFlowStepWithoutItsRequiredKeyIsRefusedBeforeItRuns()
    {
        _project.Definition("fan.json", """
            {"name": "fan", "steps": [{"id": "fan", "type": "parallel", "config": {"branch": {"a": [{"id": "nap", "type": "sleep", "config": {"seconds": 1}}]}}}]}
            """);

        var result = await CliHarness.RunAsync(_project.Root, "run", "fan", "--input", "{}");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("$.steps[0].config.branches: A parallel step needs \"branches\"", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnApprovalTakesTheDecisionGivenWithSignal()
    {
        _project.Definition("approve.json", """
            {"name": "approve", "steps": [
              {"id": "draft", "type": "transform", "config": {"operation": "template", "template": "Draft"}},
              {"id": "review", "type": "approval", "config": {"prompt": "Publish?", "show": "${steps.draft.output}", "timeout_seconds": 60}}
            ], "output": "${steps.review.output}"}
            """);

        var result = await CliHarness.RunAsync(_project.Root, "run", "approve", "--input", "{}", "--signal", """approval={"approved": true, "comment": "yes"}""", "--json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal((true, "yes"), ((bool?)result.Json["output"]!["approved"], (string?)result.Json["output"]!["comment"]));
        Assert.NotNull((string?)result.Json["output"]!["decided_at"]);
    }

    [Fact]
    public async Task JsonResultHasOutputStepsAndCostData()
    {
        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "run", "hello_transform", "--input", """{"name": "Ada"}""", "--json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var json = result.Json;
        Assert.Equal("hello_transform", (string?)json["workflow_name"]);
        Assert.Equal("Hello, Ada!", (string?)json["output"]?["greeting"]);
        Assert.Null(json["error"]);
        var step = json["steps"]!.AsArray().Single()!;
        Assert.Equal("greet", (string?)step["step_id"]);
        Assert.Equal("completed", (string?)step["status"]);
        Assert.Equal(0, (int?)json["cost_data"]?["total_tokens"]);
        Assert.Equal(string.Empty, result.Error);
    }

    [Fact]
    public async Task WithoutATerminalProgressIsPlainLines()
    {
        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "run", "hello_transform", "-i", """{"name": "Ada"}""");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.DoesNotContain('\u001b', result.Out);
        var lines = result.Out.Split('\n');
        Assert.Contains("run started: hello_transform (1 steps)", lines);
        Assert.Contains(lines, l => l.StartsWith("[1/1] Say hello (greet, transform) started", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("[100%] Say hello (greet) completed in ", StringComparison.Ordinal));
        Assert.Contains("\"greeting\": \"Hello, Ada!\"", result.Out);
        Assert.Contains("Steps and cost", result.Out);
    }

    [Fact]
    public async Task StreamedLlmTextIsPrintedAsABlockWithThePlainProgress()
    {
        _project.Definition("streamer.json", """
            { "name": "streamer", "steps": [ { "id": "say", "type": "llm", "config": { "model": "mock/echo", "prompt": "Tell me about {{topic}}", "stream": true } } ] }
            """);

        var result = await CliHarness.RunAsync(_project.Root, "run", "streamer", "--mock", "-i", """{"topic": "otters"}""");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("    | Tell me about otters", result.Out);
        Assert.Contains("mock/echo", result.Out);
    }

    [Fact]
    public async Task InputNotMatchingTheSchemaIsAUsageErrorNamingThePath()
    {
        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "run", "hello_transform", "--input", """{"name": 42}""");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("--input:$.name: Expected string, got number.", result.Error);
        Assert.Contains(Path.Combine("workflows", "definitions", "hello_transform.json"), result.Error);
    }

    [Fact]
    public async Task InputFileWithBadJsonIsAUsageErrorNamingTheFile()
    {
        var input = _project.File("input.json", "{ \"name\": ");

        var result = await CliHarness.RunAsync(_project.Root, "run", Path.Combine(CliHarness.RepositoryRoot, "workflows", "definitions", "hello_transform.json"), "--input", "input.json");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.StartsWith("input.json: not valid JSON:", result.Error);
    }

    [Fact]
    public async Task MissingInputFileIsAUsageError()
    {
        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "run", "hello_transform", "--input", "absent.json");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("--input absent.json: no such file", result.Error);
    }

    [Fact]
    public async Task UnknownWorkflowNameIsAUsageErrorListingKnownOnes()
    {
        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "run", "no_such_workflow");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("Workflow \"no_such_workflow\" is not in", result.Error);
        Assert.Contains("hello_transform", result.Error);
    }

    [Fact]
    public async Task DefinitionThatDoesNotParseIsAUsageErrorWithFileAndPath()
    {
        var path = _project.Definition("typo.json", """{ "name": "typo", "stepz": [] }""");

        var result = await CliHarness.RunAsync(_project.Root, "run", path);

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains(Path.Combine("workflows", "definitions", "typo.json") + ":$", result.Error);
    }

    [Fact]
    public async Task FailingRunExitsOneWithTheErrorInTheJson()
    {
        _project.Definition("fails.json", """
            { "name": "fails", "steps": [ { "id": "parse", "type": "transform", "config": { "operation": "parse_json", "input": "${input.text}" } } ] }
            """);

        var result = await CliHarness.RunAsync(_project.Root, "run", "fails", "--input", """{"text": "not json"}""", "--json");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        var json = result.Json;
        Assert.Equal("failed", (string?)json["status"]);
        Assert.Equal("parse", (string?)json["error"]?["step_id"]);
        Assert.Equal("failed", (string?)json["steps"]!.AsArray().Single()!["status"]);
    }

    public void Dispose() => _project.Dispose();
}
