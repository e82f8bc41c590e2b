using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Tests.Expressions;

[UnitTest]
public sealed class FieldPathTests
{
    private static readonly JsonNode Place = JsonNode.Parse("""
        {"name": "Clinic", "geometry": {"location": {"lat": 1.5}}, "types": ["hospital", "health"],
         "reviews": [{"author": "a", "stars": 5}, {"stars": 2}], "map": {"x": {"v": 1}, "y": {"v": 2}}}
        """)!;

    [Theory]
    [InlineData("name", "\"Clinic\"")]
    [InlineData("geometry.location.lat", "1.5")]
    [InlineData("types[1]", "\"health\"")]
    [InlineData("types.0", "\"hospital\"")]
    [InlineData("types[-1]", "\"health\"")]
    [InlineData("types[*]", """["hospital","health"]""")]
    [InlineData("reviews[*].author", """["a"]""")]
    [InlineData("map[*].v", "[1,2]")]
    [InlineData("$.name", "\"Clinic\"")]
    public void SelectsValues(string path, string expected) =>
        Assert.Equal(expected, FieldPath.Parse(path).Select(Place)!.ToJsonString());

    [Fact]
    public void EmptyPathSelectsTheValueItself() => Assert.Same(Place, FieldPath.Parse("").Select(Place));

    [Theory]
    [InlineData("missing")]
    [InlineData("name.first")]
    [InlineData("types[9]")]
    [InlineData("types[-3]")]
    public void MissingPathsAreNotFound(string path)
    {
        Assert.False(FieldPath.Parse(path).TrySelect(Place, out var value));
        Assert.Null(value);
    }

    [Fact]
    public void ParsedPathsAreCachedAndRenderBack()
    {
        Assert.Same(FieldPath.Parse("a['b c'][0]"), FieldPath.Parse("a['b c'][0]"));
        Assert.Equal("a['b c'][0]", FieldPath.Parse("a['b c'][0]").ToString());
        Assert.True(FieldPath.Parse("a[*].b").HasWildcard);
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData("a[")]
    [InlineData("a b")]
    public void MalformedPathsThrow(string path) => Assert.Throws<ExpressionSyntaxException>(() => FieldPath.Parse(path));
}
