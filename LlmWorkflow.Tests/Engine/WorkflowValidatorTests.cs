using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Engine.Fakes;

namespace LlmWorkflow.Tests.Engine;

/// <summary>Each broken file in BrokenWorkflows/ must produce exactly the listed problems (code@path), in order.</summary>
[UnitTest]
public sealed class WorkflowValidatorTests
{
    public static TheoryData<string, string[]> BrokenFiles => new()
    {
        { "duplicate_ids.json", ["duplicate_step_id@$.steps[1].config.then[0].id", "invalid_step_id@$.steps[2].id"] },
        { "unknown_type.json", ["unknown_step_type@$.steps[0].type", "missing_config_property@$.steps[1].config.operation"] },
        {
            "bad_references.json",
            [
                "unknown_step_reference@$.steps[0].config.params.a",
                "forward_reference@$.steps[0].config.params.b",
                "circular_reference@$.steps[0].config.params.c",
                "item_outside_for_each@$.steps[0].config.params.d",
                "invalid_expression@$.steps[1].config.params.e",
                "item_outside_for_each@$.steps[2].config.input",
                "unknown_step_reference@$.output.x",
            ]
        },
        {
            "branch_scopes.json",
            [
                "cross_branch_reference@$.steps[0].config.branches.left[0].config.params.r",
                "cross_branch_reference@$.steps[0].config.branches.right[0].config.params.l",
                "for_each_scope_reference@$.steps[2].config.params.x",
            ]
        },
        {
            "bad_llm_config.json",
            [
                "unknown_config_property@$.steps[0].config.temprature",
                "invalid_model@$.steps[0].config.model",
                "invalid_prompt_source@$.steps[0].config",
                "invalid_config_value@$.steps[0].config.temperature",
                "invalid_config_value@$.steps[0].config.max_tokens",
                "invalid_config_value@$.steps[0].config.response_format",
                "missing_prompt_file@$.steps[0].config.prompt_file",
                "invalid_model@$.steps[1].config.model[1]",
                "invalid_config_value@$.steps[1].config.messages[0]",
                "invalid_config_value@$.steps[1].config.stream",
                "invalid_prompt_source@$.steps[2].config",
            ]
        },
        {
            "bad_on_error.json",
            [
                "invalid_timeout@$.timeout_seconds",
                "invalid_on_error@$.steps[0].on_error.max_attempts",
                "invalid_on_error@$.steps[0].on_error.backoff_multiplier",
                "invalid_on_error@$.steps[1].on_error",
                "invalid_timeout@$.steps[2].timeout_seconds",
                "invalid_on_error@$.steps[2].on_error.value",
            ]
        },
        { "unknown_on_error_mode.json", ["invalid_definition@$.steps[0].on_error"] },
        {
            "unreachable.json",
            [
                "unreachable_steps@$.steps[0].config.then",
                "invalid_condition@$.steps[1].config.condition",
                "unreachable_steps@$.steps[2].config.steps",
                "invalid_config_value@$.steps[3].config.branches.only",
                "invalid_config_value@$.steps[3].config.max_concurrency",
            ]
        },
        {
            "unknown_service.json",
            [
                "unknown_config_property@$.steps[0].config.timeout",
                "unknown_external_service@$.steps[0].config.service",
                "missing_config_property@$.steps[1].config.service",
                "missing_config_property@$.steps[1].config.operation",
            ]
        },
        { "not_json.json", ["invalid_json@$"] },
        {
            "missing_prompts.json",
            ["missing_prompt_file@$.steps[0].config.prompt_file", "missing_prompt_file@$.steps[1].config.prompt_file", "missing_prompt_file@$.steps[1].config.system_file"]
        },
        { "bad_transforms.json", ["unknown_transform@$.steps[0].config.operation", "invalid_transform_config@$.steps[1].config.template"] },
        {
            "bad_inline_prompts.json",
            ["invalid_prompt@$.steps[0].config.prompt", "invalid_prompt@$.steps[1].config.system", "invalid_prompt@$.steps[2].config.messages[1].content"]
        },
        {
            "bad_approvals.json",
            [
                "missing_config_property@$.steps[0].config.prompt",
                "invalid_config_value@$.steps[0].config.event",
                "invalid_config_value@$.steps[0].config.timeout_seconds",
                "unknown_config_property@$.steps[0].config.colour",
                "invalid_config_value@$.steps[1].config.default",
            ]
        },
    };

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public void ReportsEveryProblemOfABrokenFile(string file, string[] expected)
    {
        var problems = Check(Path.Combine(RepositoryPaths.BrokenWorkflows, file));

        Assert.Equal(expected, problems.Select(p => $"{p.Code}@{p.JsonPath}"));
        Assert.All(problems, p =>
        {
            Assert.Equal(file, p.File);
            Assert.False(string.IsNullOrWhiteSpace(p.Message));
            Assert.False(string.IsNullOrWhiteSpace(p.Hint));
        });
    }

    [Fact]
    public void EveryBrokenFileHasExpectations()
    {
        var covered = BrokenFiles.Select(row => row.Data.Item1).Order();

        Assert.Equal(Directory.GetFiles(RepositoryPaths.BrokenWorkflows, "*.json").Select(Path.GetFileName).Order(), covered);
    }

    [Fact]
    public void ReferencesToFinishedNestedStepsAreValid()
    {
        var workflow = TestWorkflows.Parse("""
            {"name": "ok", "steps": [
              {"id": "pick", "type": "conditional", "config": {"condition": "input.x", "then": [
                {"id": "inner", "type": "external_api", "config": {"service": "fake", "operation": "get"}}]}},
              {"id": "use", "type": "external_api", "config": {"service": "fake", "operation": "get",
                "params": {"v": "${steps.inner.output?}", "w": "${steps.pick.output}"}}}],
             "output": "${steps.use.output}"}
            """);

        Assert.Empty(new WorkflowValidator().Validate(workflow, "ok.json"));
    }

    [Fact]
    public void AskTheModelCatalogAboutEveryModelOfAChain()
    {
        var workflow = TestWorkflows.Parse("""
            {"name": "models", "steps": [{"id": "ask", "type": "llm", "config": {"model": ["openai/gpt-4o-mini", "acme/unpriced"], "prompt": "hi"}}]}
            """);

        var problem = Assert.Single(new WorkflowValidator(models: new RejectingModelCatalog("acme/unpriced")).Validate(workflow, "models.json"));

        Assert.Equal(("$.steps[0].config.model[1]", ValidationCodes.UnknownModel, "acme/unpriced is not priced."), (problem.JsonPath, problem.Code, problem.Message));
    }

    [Fact]
    public void AJsonSchemaWithARemoteReferenceIsRefusedNamingTheField()
    {
        var workflow = TestWorkflows.Parse("""
            {"name": "remote", "steps": [{"id": "ask", "type": "llm", "config": {"model": "openai/gpt-4o-mini", "prompt": "hi", "response_format": "json",
              "json_schema": {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}, "b": {"$ref": "#/$defs/b"}}, "$defs": {"b": {"type": "string"}}}}}]}
            """);

        var problem = Assert.Single(new WorkflowValidator().Validate(workflow, "remote.json"));

        Assert.Equal(("$.steps[0].config.json_schema.properties.a.$ref", ValidationCodes.InvalidConfigValue), (problem.JsonPath, problem.Code));
        Assert.Contains("only local references", problem.Message, StringComparison.Ordinal);
    }

    private sealed class RejectingModelCatalog(string rejected) : IModelCatalog
    {
        public ModelProblem? Check(string modelId) =>
            modelId == rejected ? new ModelProblem(ValidationCodes.UnknownModel, $"{modelId} is not priced.", "Price it.") : null;
    }

    private static IReadOnlyList<ValidationProblem> Check(string path)
    {
        var loaded = WorkflowDefinitionLoader.LoadFile(path);
        var validator = new WorkflowValidator(TransformRegistry.CreateDefault(), new PromptLibrary(RepositoryPaths.TestPrompts), new FakeExternalServiceGateway());
        return loaded.Definition is { } workflow
            ? [.. loaded.Problems, .. validator.Validate(workflow, Path.GetFileName(path))]
            : loaded.Problems;
    }
}
