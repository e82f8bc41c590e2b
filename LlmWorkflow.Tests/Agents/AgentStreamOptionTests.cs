using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Tests.Agents;

/// <summary>The agent step's <c>stream</c> option: off by default, a boolean in the config and in workflows/workflow.schema.json, errors naming the field.</summary>
[UnitTest]
public sealed class AgentStreamOptionTests
{
    private const string Base = """{"model": "mock/agent", "input": "hi" """;

    [Theory]
    [InlineData("", false)]
    [InlineData(""", "stream": true""", true)]
    [InlineData(""", "stream": false""", false)]
    public void StreamIsOffUnlessTheStepTurnsItOn(string stream, bool expected)
    {
        var config = AgentStepConfig.Parse(JsonNode.Parse(Base + stream + "}")!.AsObject(), out var problems);

        Assert.Empty(problems);
        Assert.Equal(expected, config.Stream);
    }

    [Fact]
    public void AStreamThatIsNotABooleanIsRefusedNamingTheField()
    {
        AgentStepConfig.Parse(JsonNode.Parse(Base + """, "stream": "yes"}""")!.AsObject(), out var problems);

        Assert.Equal(["config.stream must be true or false."], problems);
    }

    [Fact]
    public void TheSchemaHasTheOptionAndRefusesANonBooleanAtItsPath()
    {
        static JsonNode Definition(string stream) => JsonNode.Parse($$$"""
            {"name": "streams", "steps": [{"id": "agent", "type": "agent", "config": {"model": "mock/agent", "input": "hi", "stream": {{{stream}}}}}]}
            """)!;

        Assert.Empty(WorkflowSchemaCheck.Problems(Definition("true"), "streams.json"));
        var problem = Assert.Single(WorkflowSchemaCheck.Problems(Definition("\"yes\""), "streams.json"));
        Assert.Equal("$.steps[0].config.stream", problem.JsonPath);
    }
}
