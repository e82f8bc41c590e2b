using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Tests.Engine;

internal static class TestWorkflows
{
    /// <summary>Parses a definition that must load without problems.</summary>
    public static WorkflowDefinition Parse(string json)
    {
        var result = WorkflowDefinitionLoader.Parse(json, "test.json");
        Assert.Empty(result.Problems);
        return result.Definition!;
    }

    /// <summary>Wraps steps (a JSON array) in a workflow named <c>test</c>.</summary>
    public static WorkflowDefinition WithSteps(string stepsJson, string extra = "") =>
        Parse($$"""{"name": "test", {{extra}} "steps": {{stepsJson}} }""");

    /// <summary>An external_api step on the fake service.</summary>
    public static string Call(string id, string operation, string paramsJson = "{}", string extra = "") =>
        $$"""{"id": "{{id}}", "type": "external_api", {{extra}} "config": {"service": "fake", "operation": "{{operation}}", "params": {{paramsJson}} } }""";
}
