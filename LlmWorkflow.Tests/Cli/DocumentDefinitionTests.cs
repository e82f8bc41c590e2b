using System.Text.Json.Nodes;
using LlmWorkflow.Cli;
using LlmWorkflow.Tests.Fakes;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// Definitions written in the original documents' shape: document 001's example is upgraded by `llmwf upgrade`
/// (every change reported), validates, is priced through OpenRouter and runs with --mock; document 000's
/// emergency_contacts needs no upgrade and runs with --mock.
/// </summary>
[SystemTest]
public sealed class DocumentDefinitionTests : IDisposable
{
    /// <summary>Document 001, "Workflow System / Quick Example", as printed there.</summary>
    private static readonly string Document001Example = Document001.QuickExample;

    private readonly TempWorkflows _project = new();

    public DocumentDefinitionTests() =>
        _project.File("workflows/prompts/my-workflow/prompt.md", "Suggest what to wear for this weather: {{weather.current.condition.text}}, {{weather.current.temp_c}} C.\n");

    [Fact]
    public async Task Document001ExampleIsRejectedAsWrittenWithAHintToUpgrade()
    {
        var path = _project.Definition("my_workflow.json", Document001Example);

        var result = await CliHarness.RunAsync(_project.Root, "validate", path, "--mock");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("$.steps[0].config.config: error unknown_config_property", result.Out);
        Assert.Contains("llmwf upgrade", result.Out);
    }

    [Fact]
    public async Task Document001ExampleUpgradesWithAReportOfEveryChange()
    {
        var path = _project.Definition("my_workflow.json", Document001Example);

        var result = await CliHarness.RunAsync(_project.Root, "upgrade", path);

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var shown = Path.Combine("workflows", "definitions", "my_workflow.json");
        Assert.Contains($"{shown}:$.steps[0].config.config: renamed to params", result.Out);
        Assert.Contains($"{shown}:$.steps[1].config.prompt_template: renamed to prompt_file", result.Out);
        Assert.Contains($"{shown}:$.steps[1].config.model: \"anthropic/claude-3.5-sonnet\" → \"openrouter/anthropic/claude-3.5-sonnet\"", result.Out);
        Assert.Contains($"{shown}:$.steps[1].config.variables.weather: \"${{steps.fetch_data.data}}\" → \"${{steps.fetch_data.output}}\"", result.Out);

        var upgraded = JsonNode.Parse(await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken))!.AsObject();
        var fetch = upgraded["steps"]![0]!["config"]!.AsObject();
        Assert.Equal(["service", "operation", "params"], fetch.Select(p => p.Key));
        var generate = upgraded["steps"]![1]!["config"]!.AsObject();
        Assert.Equal(["model", "prompt_file", "variables"], generate.Select(p => p.Key));
        Assert.Equal("openrouter/anthropic/claude-3.5-sonnet", (string?)generate["model"]);
        Assert.Equal("${steps.fetch_data.output}", (string?)generate["variables"]!["weather"]);

        var validate = await CliHarness.RunAsync(_project.Root, "validate", path, "--mock");
        Assert.True(validate.ExitCode == ExitCodes.Success, validate.ToString());

        var again = await CliHarness.RunAsync(_project.Root, "upgrade", path, "--check");
        Assert.Equal(ExitCodes.Success, again.ExitCode);
        Assert.Contains("nothing to upgrade", again.Out);
    }

    [Fact]
    public async Task TheWrappedFormIsUnwrappedAndItsInputBecomesTheExampleInput()
    {
        // The example as a request body wraps it: the definition with an input for it.
        var wrapped = """{"workflow": """ + Document001Example + """, "input_data": {"lat": 48.85, "lng": 2.35}}""";
        var path = _project.Definition("my_workflow.json", wrapped);

        var result = await CliHarness.RunAsync(_project.Root, "upgrade", path);

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var shown = Path.Combine("workflows", "definitions", "my_workflow.json");
        var example = Path.Combine("workflows", "examples", "my_workflow.json");
        Assert.Contains($"{shown}:$: unwrapped", result.Out);
        Assert.Contains($"{shown}:$.input_data: moved to {example}", result.Out);
        Assert.Contains($"{shown}:$.workflow.steps[0].config.config: renamed to params", result.Out);
        Assert.Contains($"{shown}:$.workflow.steps[1].config.prompt_template: renamed to prompt_file", result.Out);
        Assert.Contains($"{shown}:$.workflow.steps[1].config.model:", result.Out);
        Assert.Contains($"{shown}:$.workflow.steps[1].config.variables.weather:", result.Out);
        Assert.Contains($"Upgraded {shown}: 6 change(s); it validates", result.Out);
        var upgraded = JsonNode.Parse(await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken))!.AsObject();
        Assert.Equal(["name", "version", "description", "steps", "timeout_seconds"], upgraded.Select(p => p.Key));
        var input = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_project.Root, example), TestContext.Current.CancellationToken))!;
        Assert.Equal(48.85, (double)input["lat"]!);
        var validate = await CliHarness.RunAsync(_project.Root, "validate", path, "--mock");
        Assert.True(validate.ExitCode == ExitCodes.Success, validate.ToString());
    }

    [Fact]
    public async Task AWrapperWithOtherKeysIsRefusedWithoutWriting()
    {
        var wrapped = """{"workflow": """ + Document001Example + """, "input_data": {}, "webhook_url": "https://example.com/hook"}""";
        var path = _project.Definition("my_workflow.json", wrapped);

        var result = await CliHarness.RunAsync(_project.Root, "upgrade", path);

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("$.webhook_url: not part of a definition", result.Error);
        Assert.Equal(wrapped, await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task AnUpgradeThatDoesNotValidateIsNotReportedAsSuccess()
    {
        // The prompt file the example names is missing: upgrade cannot write the author's prompt.
        File.Delete(Path.Combine(_project.Workflows, "prompts", "my-workflow", "prompt.md"));
        var path = _project.Definition("my_workflow.json", Document001Example);

        var result = await CliHarness.RunAsync(_project.Root, "upgrade", path);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.DoesNotContain("Upgraded", result.Out);
        Assert.Contains("$.steps[1].config.prompt_file: error missing_prompt_file", result.Out);
        Assert.Contains("but it does not validate yet: 1 problem(s)", result.Out);
    }

    [Fact]
    public async Task AWrappedDefinitionIsReportedInJsonTermsByValidate()
    {
        var path = _project.Definition("my_workflow.json", """{"workflow": """ + Document001Example + """, "input_data": {}}""");

        var result = await CliHarness.RunAsync(_project.Root, "validate", path);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("$.workflow: error invalid_definition: Unknown property \"workflow\".", result.Out);
        Assert.Contains("llmwf upgrade", result.Out);
        Assert.DoesNotContain("System.", result.Out);
        Assert.DoesNotContain("LlmWorkflow.", result.Out);
    }

    [Fact]
    public async Task UpgradeCheckReportsWithoutWriting()
    {
        var path = _project.Definition("my_workflow.json", Document001Example);

        var result = await CliHarness.RunAsync(_project.Root, "upgrade", path, "--check");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("4 change(s) needed", result.Out);
        Assert.Equal(Document001Example, await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task DefaultProviderIsConfigurable()
    {
        var path = _project.Definition("my_workflow.json", Document001Example.Replace("anthropic/claude-3.5-sonnet", "meta-llama/llama-3.1-70b-instruct", StringComparison.Ordinal));

        var result = await CliHarness.RunAsync(_project.Root, "upgrade", path, "--default-provider", "together");

        Assert.Contains("\"meta-llama/llama-3.1-70b-instruct\" → \"together/meta-llama/llama-3.1-70b-instruct\"", result.Out);
        // Nothing here configures or prices a "together" provider: the rewrite is done, but not reported as a success.
        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("$.steps[1].config.model: error unknown_model: Unknown LLM provider 'together'", result.Out);
        Assert.Contains("but it does not validate yet", result.Out);
    }

    [Fact]
    public async Task UpgradedDocument001ExampleIsPricedThroughOpenRouter()
    {
        var path = _project.Definition("my_workflow.json", Document001Example);
        Assert.Equal(ExitCodes.Success, (await CliHarness.RunAsync(_project.Root, "upgrade", path)).ExitCode);

        var result = await CliHarness.RunAsync(_project.Root, "dry-run", path, "--mock", "--input", """{"lat": 48.85, "lng": 2.35}""", "--json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Empty(result.Json["unpriced_models"]!.AsArray());
        Assert.True((decimal?)result.Json["max_cost_usd"] > 0m, result.Out);
    }

    [Fact]
    public async Task UpgradedDocument001ExampleRunsWithMock()
    {
        await using var weather = await FakeWeatherApiServer.StartAsync();
        var path = _project.Definition("my_workflow.json", Document001Example);
        Assert.Equal(ExitCodes.Success, (await CliHarness.RunAsync(_project.Root, "upgrade", path)).ExitCode);
        var environment = new Dictionary<string, string>
        {
            ["External__Services__weatherapi__BaseUrl"] = weather.BaseUrl.ToString(),
            ["External__Services__weatherapi__ApiKey"] = "test-key",
        };

        var result = await CliHarness.RunProcessAsync(_project.Root, environment, "run", path, "--mock", "--json", "--input", """{"lat": 48.85, "lng": 2.35}""");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal("completed", (string?)result.Json["status"]);
        // The mock echoes the rendered prompt: the weather reached the template through ${steps.fetch_data.output}.
        Assert.Contains("Sunny, 21.5 C", (string?)result.Json["output"]?["text"]);
        Assert.EndsWith("openrouter/anthropic/claude-3.5-sonnet", (string?)result.Json["cost_data"]?["models"]?[0]?["model"]);
    }

    [Fact]
    public async Task Document000EmergencyContactsNeedsNoUpgradeAndRunsWithMock()
    {
        var shipped = Path.Combine(CliHarness.RepositoryRoot, "workflows", "definitions", "emergency_contacts.json");

        var check = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "upgrade", shipped, "--check");
        var run = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "run", "emergency_contacts", "--mock", "--json");

        Assert.True(check.ExitCode == ExitCodes.Success, check.ToString());
        Assert.Contains("nothing to upgrade", check.Out);
        Assert.True(run.ExitCode == ExitCodes.Success, run.ToString());
        Assert.Equal("completed", (string?)run.Json["status"]);
        Assert.NotEmpty(run.Json["output"]!["contacts"]!.AsArray());
    }

    public void Dispose() => _project.Dispose();
}
