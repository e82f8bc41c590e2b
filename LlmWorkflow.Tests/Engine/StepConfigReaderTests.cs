using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Steps;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// A step's typed config is read from bytes written once per definition: each read is the config as the definition
/// states it, its own copy (a run that changes its copy changes no other run's), and a config of the wrong shape is a
/// CONFIG_ERROR naming the step and the field.
/// </summary>
[UnitTest]
public sealed class StepConfigReaderTests
{
    private static StepDefinition Step(string configJson) => new()
    {
        Id = "answer",
        Type = StepTypes.Llm,
        Config = JsonNode.Parse(configJson)!.AsObject(),
    };

    [Fact]
    public void AReadHoldsWhatTheDefinitionStatesAsReadingTheNodeDirectlyDoes()
    {
        var step = Step("""
            {"model": ["openai/gpt-4o-mini", "mock/echo"], "prompt": "Hi {{name}} ✓", "variables": {"name": "${input.name}", "n": [1, {"k": null}]},
             "temperature": 0.2, "max_tokens": 50, "response_format": "json", "json_schema": {"required": ["a"]}, "stream": true, "cache_ttl_seconds": 60}
            """);

        var read = StepConfigReader.Read(step, DefinitionJsonContext.Default.LlmStepConfig);
        var again = StepConfigReader.Read(step, DefinitionJsonContext.Default.LlmStepConfig);
        var direct = step.Config.Deserialize(DefinitionJsonContext.Default.LlmStepConfig)!;

        foreach (var config in new[] { read, again })
        {
            Assert.Equal(JsonSerializer.Serialize(direct, DefinitionJsonContext.Default.LlmStepConfig),
                JsonSerializer.Serialize(config, DefinitionJsonContext.Default.LlmStepConfig));
            Assert.Equal(["openai/gpt-4o-mini", "mock/echo"], config.Model);
            Assert.Equal("Hi {{name}} ✓", config.Prompt);
            Assert.Equal(LlmResponseFormat.Json, config.ResponseFormat);
        }
    }

    [Fact]
    public async Task EveryReadIsItsOwnCopyEvenWhenManyRunsReadAndChangeThemAtOnce()
    {
        var step = Step("""{"model": "mock/echo", "prompt": "p", "variables": {"list": [1, 2], "nested": {"a": "b"}}}""");

        var reads = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() =>
        {
            var config = StepConfigReader.Read(step, DefinitionJsonContext.Default.LlmStepConfig);
            config.Variables!["run"] = i;
            config.Variables["list"]!.AsArray().Add(i);
            config.Variables["nested"]!["a"] = $"run {i}";
            return config;
        }, TestContext.Current.CancellationToken)));

        for (var i = 0; i < reads.Length; i++)
        {
            Assert.Equal($$"""{"list":[1,2,{{i}}],"nested":{"a":"run {{i}}"},"run":{{i}}}""", reads[i].Variables!.ToJsonString());
        }

        var fresh = StepConfigReader.Read(step, DefinitionJsonContext.Default.LlmStepConfig);
        Assert.Equal("""{"list":[1,2],"nested":{"a":"b"}}""", fresh.Variables!.ToJsonString());
        Assert.Equal("""{"list":[1,2],"nested":{"a":"b"}}""", step.Config["variables"]!.ToJsonString());
    }

    [Fact]
    public void AConfigOfTheWrongShapeIsAConfigErrorNamingTheStepAndTheField()
    {
        var step = Step("""{"model": "mock/echo", "prompt": "p", "max_tokens": "many"}""");

        var error = Assert.Throws<WorkflowException>(() => StepConfigReader.Read(step, DefinitionJsonContext.Default.LlmStepConfig)).Error;

        Assert.Equal(("invalid_step_config", ErrorCategory.ConfigError, "answer"), (error.Type, error.Category, error.StepId));
        Assert.Contains("Step \"answer\" has an invalid config", error.Message, StringComparison.Ordinal);
        Assert.Contains("$.max_tokens", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownFieldIsRefusedAsBefore()
    {
        var step = Step("""{"model": "mock/echo", "prompt": "p", "max_token": 5}""");

        var error = Assert.Throws<WorkflowException>(() => StepConfigReader.Read(step, DefinitionJsonContext.Default.LlmStepConfig)).Error;

        Assert.Equal("invalid_step_config", error.Type);
        Assert.Contains("max_token", error.Message, StringComparison.Ordinal);
    }
}
