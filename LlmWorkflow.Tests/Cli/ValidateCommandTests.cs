using System.Text.Json.Nodes;
using LlmWorkflow.Cli;

namespace LlmWorkflow.Tests.Cli;

/// <summary><c>llmwf validate</c> in-process: exit codes, file:jsonpath locations and the JSON shape.</summary>
[SystemTest]
public sealed class ValidateCommandTests : IDisposable
{
    private const string Broken = """
        {
          "name": "broken",
          "steps": [
            { "id": "a", "type": "transform", "config": { "operation": "no_such_op", "input": "${input.x}" } },
            { "id": "a", "type": "transform", "config": { "operation": "template", "template": "${steps.missing.output}" } }
          ]
        }
        """;

    private static readonly Dictionary<string, string> WithoutProviderKeys = new()
    {
        ["OPENROUTER_API_KEY"] = "",
        ["OPENAI_API_KEY"] = "",
        ["ANTHROPIC_API_KEY"] = "",
    };

    private readonly TempWorkflows _project = new();

    [Fact]
    public async Task ShippedDefinitionsAreValid()
    {
        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "validate", "--mock");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Contains("OK:", result.Out);
    }

    [Fact]
    public async Task WithoutProviderKeysTheShippedDefinitionsAreValidWithWarningsNamingTheKeyAndTheOfflineRun()
    {
        // A fresh clone: the provider keys are emptied in the tool's environment, whatever this machine has.
        var result = await CliHarness.RunProcessAsync(CliHarness.RepositoryRoot, WithoutProviderKeys, "validate", "workflows/definitions", "--json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.True((bool)result.Json["valid"]!);
        Assert.Empty(result.Json["problems"]!.AsArray());
        var warnings = result.Json["warnings"]!.AsArray();
        Assert.NotEmpty(warnings);
        Assert.All(warnings, w =>
        {
            Assert.Equal("missing_provider_key", (string?)w!["code"]);
            // Each warning names the environment variable of the provider it is about (openrouter, or openai for
            // generate_project's default model).
            var message = (string?)w["message"] ?? "";
            var provider = System.Text.RegularExpressions.Regex.Match(message, "LLM provider '([a-z]+)'").Groups[1].Value;
            Assert.Contains(provider, new[] { "openrouter", "openai" });
            Assert.Contains($"{provider.ToUpperInvariant()}_API_KEY", message, StringComparison.Ordinal);
            Assert.Contains("Llm__Mock__ServeAllModels=true", (string?)w["hint"], StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task StrictMakesAMissingProviderKeyFail()
    {
        var result = await CliHarness.RunProcessAsync(CliHarness.RepositoryRoot, WithoutProviderKeys, "validate", "workflows/definitions", "--strict");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("warning missing_provider_key:", result.Out);
        Assert.Contains("(--strict: warnings fail)", result.Out);
    }

    [Fact]
    public async Task ProblemsAreReportedWithFileAndJsonPathAndExitOne()
    {
        _project.Definition("broken.json", Broken);

        var result = await CliHarness.RunAsync(_project.Root, "validate");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        var file = Path.Combine("workflows", "definitions", "broken.json");
        Assert.Contains($"{file}:$.steps[0].config.operation: error unknown_transform:", result.Out);
        Assert.Contains($"{file}:$.steps[1].id: error duplicate_step_id:", result.Out);
        Assert.Contains("hint:", result.Out);
        Assert.Contains("FAILED:", result.Out);
    }

    [Fact]
    public async Task JsonOutputListsFilesAndProblems()
    {
        _project.Definition("broken.json", Broken);
        _project.Definition("fine.json", """{ "name": "fine", "steps": [ { "id": "t", "type": "transform", "config": { "operation": "template", "template": "hi" } } ] }""");

        var result = await CliHarness.RunAsync(_project.Root, "validate", "workflows/definitions", "--json");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        var json = result.Json;
        Assert.False((bool)json["valid"]!);
        var files = json["files"]!.AsArray().Select(f => f!.AsObject()).ToList();
        Assert.Equal(["broken", "fine"], files.Select(f => (string?)f["workflow"]));
        Assert.Equal([false, true], files.Select(f => (bool)f["valid"]!));
        var problem = json["problems"]!.AsArray().Select(p => p!.AsObject()).First(p => (string?)p["code"] == "unknown_transform");
        Assert.Equal(Path.Combine("workflows", "definitions", "broken.json"), (string?)problem["file"]);
        Assert.Equal("$.steps[0].config.operation", (string?)problem["json_path"]);
        Assert.False(string.IsNullOrEmpty((string?)problem["message"]));
        Assert.False(string.IsNullOrEmpty((string?)problem["hint"]));
    }

    [Theory]
    [InlineData("""{"name": "shape", "steps": [], "timeout_seconds": "soon"}""", "$.timeout_seconds", "This value has the wrong JSON type; workflows/workflow.schema.json gives the type of each property.")]
    [InlineData("""{"name": 5, "steps": []}""", "$.name", "This value has the wrong JSON type; workflows/workflow.schema.json gives the type of each property.")]
    [InlineData("""{"name": "shape", "steps": {"a": 1}}""", "$.steps", "Expected an array here.")]
    [InlineData("""{"steps": []}""", "$", "Missing required properties: name.")]
    [InlineData("""{"name": "shape", "steps": [], "extra": 1}""", "$.extra", "Unknown property \"extra\".")]
    public async Task ShapeErrorsAreReportedInJsonTermsWithoutDotNetTypeNames(string json, string path, string message)
    {
        var file = _project.Definition("shape.json", json);

        var result = await CliHarness.RunAsync(_project.Root, "validate", file);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains($"{Path.Combine("workflows", "definitions", "shape.json")}:{path}: error invalid_definition: {message}", result.Out);
        Assert.DoesNotContain("System.", result.Out);
        Assert.DoesNotContain("LlmWorkflow.", result.Out);
    }

    [Fact]
    public async Task SyntaxErrorsNameTheFile()
    {
        var path = _project.Definition("syntax.json", """{ "name": "syntax", "steps": [ """);

        var result = await CliHarness.RunAsync(_project.Root, "validate", path, "--json");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        var problem = result.Json["problems"]!.AsArray().Single()!;
        Assert.Equal("invalid_json", (string?)problem["code"]);
        Assert.Equal(Path.Combine("workflows", "definitions", "syntax.json"), (string?)problem["file"]);
    }

    [Fact]
    public async Task UnknownProviderIsAProblemAtTheModelPath()
    {
        _project.Definition("model.json", """
            { "name": "model", "steps": [ { "id": "ask", "type": "llm", "config": { "model": "nope/some-model", "prompt": "Hi" } } ] }
            """);

        var result = await CliHarness.RunAsync(_project.Root, "validate", "--json");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains(result.Json["problems"]!.AsArray(), p => ((string?)p!["json_path"])!.StartsWith("$.steps[0].config.model", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MissingPathIsAUsageError()
    {
        var result = await CliHarness.RunAsync(_project.Root, "validate", "nowhere.json");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("nowhere.json: no such file or folder.", result.Error);
    }

    [Fact]
    public async Task UnknownOptionIsAUsageError()
    {
        var result = await CliHarness.RunAsync(_project.Root, "validate", "--frobnicate");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("--frobnicate", result.Error);
    }

    public void Dispose() => _project.Dispose();
}
