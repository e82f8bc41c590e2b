using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Tests.Engine;

public sealed class InputSchemaValidatorTests
{
    private static readonly JsonObject Schema = JsonNode.Parse("""
        {"type": "object", "required": ["city", "count"], "properties": {
          "city": {"type": "string", "minLength": 2, "maxLength": 10},
          "count": {"type": "integer", "minimum": 1, "maximum": 5},
          "tier": {"type": "string", "enum": ["basic", "pro"]},
          "ratio": {"type": "number"},
          "urgent": {"type": "boolean"},
          "tags": {"type": "array", "items": {"type": "string"}},
          "location": {"type": "object", "required": ["lat"], "properties": {"lat": {"type": "number"}}}}}
        """)!.AsObject();

    [Fact]
    public void AcceptsValidInput()
    {
        var input = JsonNode.Parse("""{"city": "Oslo", "count": 2, "tier": "pro", "ratio": 0.5, "urgent": true, "tags": ["a"], "location": {"lat": 59.9}, "extra": 1}""");

        Assert.Empty(InputSchemaValidator.Validate(Schema, input));
    }

    [Fact]
    public void ReportsEveryProblemWithItsPath()
    {
        var input = JsonNode.Parse("""{"city": "X", "count": 2.5, "tier": "gold", "ratio": "high", "urgent": 1, "tags": ["a", 3], "location": {}}""");

        var problems = InputSchemaValidator.Validate(Schema, input);

        Assert.Equal(
            ["$.city", "$.count", "$.tier", "$.ratio", "$.urgent", "$.tags[1]", "$.location.lat"],
            problems.Select(p => p.Path));
        Assert.Equal("Must be at least 2 characters long.", problems[0].Message);
        Assert.Equal("Expected integer, got number.", problems[1].Message);
    }

    [Theory]
    [InlineData("""{"city": "Oslo"}""", "$.count", "Required property \"count\" is missing.")]
    [InlineData("""{"city": "Oslo", "count": 9}""", "$.count", "Must be at most 5.")]
    [InlineData("""{"city": "Oslo", "count": 0}""", "$.count", "Must be at least 1.")]
    [InlineData("""{"city": "Oslo-Bergen-Trondheim", "count": 1}""", "$.city", "Must be at most 10 characters long.")]
    [InlineData("""[1]""", "$", "Expected object, got array.")]
    [InlineData("""null""", "$", "Expected object, got null.")]
    public void ReportsSingleProblems(string json, string path, string message)
    {
        var problem = Assert.Single(InputSchemaValidator.Validate(Schema, JsonNode.Parse(json)));

        Assert.Equal((path, message), (problem.Path, problem.Message));
    }
}
