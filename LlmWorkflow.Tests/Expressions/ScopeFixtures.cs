using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Tests.Expressions;

/// <summary>A scope shaped like an emergency-contacts run, shared by the expression tests.</summary>
internal static class ScopeFixtures
{
    public static ExpressionScope Create() => new(
        JsonNode.Parse("""{"name": "Ada", "n": 3, "ratio": 0.5, "location": {"lat": 37.77}, "tags": ["a", "b", "c"], "nickname": null, "weird key": 1}"""),
        new Dictionary<string, JsonNode?>
        {
            ["fetch"] = JsonNode.Parse("""{"results": [{"name": "General Hospital", "rating": 4.5}, {"name": "Fire Station 1", "rating": 3}]}"""),
        },
        JsonNode.Parse("""{"tier": "BASIC"}""")!.AsObject());
}
