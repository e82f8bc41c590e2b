using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Tests.Engine;

[UnitTest]
public sealed class InputSchemaValidatorTests
{
    private static readonly JsonObject Schema = JsonNode.Parse("""
        {"type": "object", "properties": {"group_size": {"type": "integer"}}}
        """)!.AsObject();

    [Fact]
    public void AnIntegerBuiltInCodeIsAnInteger()
    {
        // The document-004 start builds its job input in code; an int-backed JsonValue once threw here (a 500).
        Assert.Empty(InputSchemaValidator.Validate(Schema, new JsonObject { ["group_size"] = 4, }));
        Assert.Empty(InputSchemaValidator.Validate(Schema, new JsonObject { ["group_size"] = 4L, }));
        Assert.Empty(InputSchemaValidator.Validate(Schema, new JsonObject { ["group_size"] = 4.0m, }));
    }

    [Fact]
    public void AFractionBuiltInCodeIsNotAnInteger()
    {
        var problem = Assert.Single(InputSchemaValidator.Validate(Schema, new JsonObject { ["group_size"] = 4.5m, }));
        Assert.Contains("integer", problem.Message);
    }
}
