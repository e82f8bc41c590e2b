using System.Text.Json.Nodes;
using LlmWorkflow.Cli;

namespace LlmWorkflow.Tests.Cli;

/// <summary><c>llmwf dry-run</c>: the planner's steps and min/expected/max costs, as a table and as JSON.</summary>
[SystemTest]
public sealed class DryRunCommandTests : IDisposable
{
    private readonly TempWorkflows _project = new();

    public DryRunCommandTests() => _project.Definition("priced.json", """
        {
          "name": "priced",
          "input_schema": { "type": "object", "required": ["topic"] },
          "steps": [
            { "id": "outline", "type": "llm", "display_name": "Outline", "config": { "model": "openai/gpt-4o-mini", "prompt": "Outline {{topic}}", "max_tokens": 1000 } },
            { "id": "tidy", "type": "transform", "config": { "operation": "template", "template": "${steps.outline.output.text}" } }
          ]
        }
        """);

    [Fact]
    public async Task JsonPlanPricesEachLlmStepAndTheTotal()
    {
        // --mock: no OpenAI key needed to plan; the costs stay those of openai/gpt-4o-mini.
        var result = await CliHarness.RunAsync(_project.Root, "dry-run", "priced", "--mock", "--input", """{"topic": "tides"}""", "--json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var json = result.Json;
        Assert.True((bool)json["valid"]!);
        var steps = json["steps"]!.AsArray().Select(s => s!.AsObject()).ToList();
        Assert.Equal(["outline", "tidy"], steps.Select(s => (string?)s["id"]));
        var outline = steps[0];
        Assert.Equal(1000, (int?)outline["max_output_tokens"]);
        Assert.Contains("Outline tides", (string?)outline["rendered_prompt"]);
        var (min, expected, max) = ((decimal)outline["min_cost_usd"]!, (decimal)outline["expected_cost_usd"]!, (decimal)outline["max_cost_usd"]!);
        Assert.True(0 < min && min < expected && expected < max, $"{min} < {expected} < {max}");
        Assert.Equal(max, (decimal)json["max_cost_usd"]!);
        Assert.Null(steps[1]["max_cost_usd"]);
    }

    [Fact]
    public async Task TableShowsStepsAndTotal()
    {
        var result = await CliHarness.RunAsync(_project.Root, "dry-run", "priced", "--mock", "-i", """{"topic": "tides"}""");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("Plan of priced (nothing called)", result.Out);
        Assert.Contains("Outline (outline)", result.Out);
        Assert.Contains("openai/gpt-4o-mini", result.Out);
        Assert.Contains("Total", result.Out);
    }

    [Fact]
    public async Task WithoutProviderKeysThePlanIsValidWithWarnings()
    {
        // Nothing is called: a key missing on this machine (emptied in the tool's environment) does not fail the plan.
        var withoutKeys = new Dictionary<string, string> { ["OPENROUTER_API_KEY"] = "", ["OPENAI_API_KEY"] = "", ["ANTHROPIC_API_KEY"] = "" };

        var result = await CliHarness.RunProcessAsync(CliHarness.RepositoryRoot, withoutKeys, "dry-run", "emergency_contacts", "--json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.True((bool)result.Json["valid"]!);
        Assert.Empty(result.Json["problems"]!.AsArray());
        Assert.All(result.Json["warnings"]!.AsArray(), w => Assert.Equal("missing_provider_key", (string?)w!["code"]));
        Assert.NotEmpty(result.Json["warnings"]!.AsArray());
    }

    [Fact]
    public async Task InputMissingARequiredPropertyIsAUsageError()
    {
        var result = await CliHarness.RunAsync(_project.Root, "dry-run", "priced", "--mock", "--input", "{}");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("--input:$.topic: Required property \"topic\" is missing.", result.Error);
    }

    public void Dispose() => _project.Dispose();
}
