using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.StructuredOutput;

namespace LlmWorkflow.Tests.StructuredOutput;

[UnitTest]
public sealed class StructuredOutputSchemaTests
{
    private static readonly JsonObject Contacts = JsonNode.Parse("""
        {"type": "object", "required": ["contacts"], "additionalProperties": false,
         "properties": {"contacts": {"type": "array", "items": {"$ref": "#/$defs/contact"}}},
         "$defs": {"contact": {"type": "object", "required": ["name", "age"], "additionalProperties": false,
                               "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}}}}
        """)!.AsObject();

    [Fact]
    public void NestedViolationsAreReportedByJsonPointer()
    {
        var schema = StructuredOutputSchema.Build(Contacts, "steps.ask.config.json_schema");

        var answer = StructuredAnswer.Check("""{"contacts": [{"name": "Ada", "age": -1}, {"name": 3, "age": 4, "x": 1}]}""", schema);

        Assert.False(answer.IsValid);
        var paths = answer.Violations.Select(v => v.Path).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["/contacts/0/age", "/contacts/1/name", "/contacts/1/x"], paths);
        Assert.Contains("/contacts/0/age", answer.RepairPrompt(), StringComparison.Ordinal);
    }

    [Fact]
    public void AConformingAnswerThroughCodeFencesIsValid()
    {
        var schema = StructuredOutputSchema.Build(Contacts, "json_schema");

        var answer = StructuredAnswer.Check("```json\n{\"contacts\": [{\"name\": \"Ada\", \"age\": 36}]}\n```", schema);

        Assert.True(answer.IsValid);
        Assert.Equal("Ada", answer.Json!["contacts"]![0]!["name"]!.GetValue<string>());
    }

    [Fact]
    public void TheFailureNamesThePathsAndIsASchemaMismatch()
    {
        var schema = StructuredOutputSchema.Build(Contacts, "json_schema");
        var answer = StructuredAnswer.Check("""{"contacts": [{"name": "Ada"}]}""", schema);

        var failure = answer.Failure("ask", repairTurns: 1).Error;

        Assert.Equal((StructuredAnswer.SchemaMismatchType, ErrorCategory.ExternalError, "ask"), (failure.Type, failure.Category, failure.StepId));
        Assert.Contains("/contacts/0", failure.Message, StringComparison.Ordinal);
        Assert.Equal(["/contacts/0"], failure.Details!["paths"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal(1, failure.Details["repair_turns"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("""{"$ref": "https://example.com/schema.json"}""", "json_schema.$ref")]
    [InlineData("""{"properties": {"a": {"$ref": "other.json#/x"}}}""", "json_schema.properties.a.$ref")]
    [InlineData("""{"anyOf": [{"type": "string"}, {"$dynamicRef": "http://x/y"}]}""", "json_schema.anyOf[1].$dynamicRef")]
    public void RemoteReferencesAreRefusedNamingTheField(string schema, string path)
    {
        var problems = StructuredOutputSchema.Problems(JsonNode.Parse(schema)!.AsObject(), "json_schema");

        var problem = Assert.Single(problems);
        Assert.Equal(path, problem.Path);
        Assert.Contains("only local references", problem.Message, StringComparison.Ordinal);
        var thrown = Assert.Throws<WorkflowException>(() => StructuredOutputSchema.Build(JsonNode.Parse(schema)!.AsObject(), "json_schema"));
        Assert.Equal("invalid_json_schema", thrown.Error.Type);
        Assert.Contains(path, thrown.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnresolvableLocalReferenceIsReported()
    {
        var problems = StructuredOutputSchema.Problems(JsonNode.Parse("""{"$ref": "#/$defs/missing"}""")!.AsObject(), "json_schema");

        Assert.Equal("json_schema.$ref", Assert.Single(problems).Path);
    }

    [Fact]
    public void TwoSchemasWithTheSameIdDoNotCollide()
    {
        var first = StructuredOutputSchema.Build(JsonNode.Parse("""{"$id": "https://example.com/a", "type": "string"}""")!.AsObject(), "a");
        var second = StructuredOutputSchema.Build(JsonNode.Parse("""{"$id": "https://example.com/a", "type": "number"}""")!.AsObject(), "b");

        Assert.Empty(first.Validate(JsonDocument.Parse("\"x\"").RootElement));
        Assert.Empty(second.Validate(JsonDocument.Parse("1").RootElement));
    }

    [Theory]
    [InlineData(true, """{"type": "object", "additionalProperties": false, "required": ["a"], "properties": {"a": {"type": "object", "additionalProperties": false, "required": ["b"], "properties": {"b": {"type": "string"}}}}}""")]
    [InlineData(false, """{"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}""")]
    [InlineData(false, """{"type": "object", "additionalProperties": false, "required": [], "properties": {"a": {"type": "string"}}}""")]
    [InlineData(false, """{"required": ["a"]}""")]
    public void StrictnessFollowsOpenAisRules(bool strict, string schema)
    {
        Assert.Equal(strict, StrictSchema.IsCompatible(JsonDocument.Parse(schema).RootElement));
    }
}
