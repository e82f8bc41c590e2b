using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Tests.Expressions;

[UnitTest]
public sealed class ConditionTests
{
    private readonly ExpressionScope scope = ScopeFixtures.Create()
        .WithItem(JsonNode.Parse("""{"rating": 4.5, "types": ["hospital"], "phone": "", "name": "General", "score": "12"}"""), 0);

    [Theory]
    [InlineData("input.n == 3", true)]
    [InlineData("input.n == 3.0", true)]
    [InlineData("input.n != 3", false)]
    [InlineData("input.n > 2 and input.n < 4", true)]
    [InlineData("input.n >= 4 || input.name == 'Ada'", true)]
    [InlineData("input.name == \"Ada\" && !(input.n <= 2)", true)]
    [InlineData("not input.n == 3", false)]
    [InlineData("item.rating >= 4", true)]
    [InlineData("item.score > 9", true)]
    [InlineData("'b' < 'a'", false)]
    [InlineData("steps.fetch.output.results[0].rating > 4", true)]
    [InlineData("${steps.fetch.output.results[1].rating} == 3", true)]
    [InlineData("context.tier in ['BASIC', 'PRO']", true)]
    [InlineData("context.tier not in ['PRO']", true)]
    [InlineData("'b' in input.tags", true)]
    [InlineData("input.tags contains 'z'", false)]
    [InlineData("input.tags not contains 'z'", true)]
    [InlineData("item.name contains 'ene'", true)]
    [InlineData("input.location contains 'lat'", true)]
    [InlineData("exists(input.location.lat)", true)]
    [InlineData("input.nickname exists", false)]
    [InlineData("exists(input.absent.deep)", false)]
    [InlineData("input.absent == null", true)]
    [InlineData("input.absent > 1", false)]
    [InlineData("len(input.tags) == 3 and length(input.name) == 3", true)]
    [InlineData("empty(item.phone) and not empty(item.types)", true)]
    [InlineData("item.types", true)]
    [InlineData("item.phone", false)]
    [InlineData("input.nickname", false)]
    [InlineData("0", false)]
    [InlineData("-1.5e0 < 0", true)]
    [InlineData("index == 0", true)]
    [InlineData("true and (false or null == null)", true)]
    [InlineData("input.n > 'abc'", false)]
    [InlineData("input.location == input.location", true)]
    [InlineData("input.n AND input.name", true)]
    public void Evaluates(string text, bool expected) => Assert.Equal(expected, Condition.Parse(text).Evaluate(scope));

    [Theory]
    [InlineData("input.n ==", 10, "a value")]
    [InlineData("(input.n == 1", 13, "')'")]
    [InlineData("input.n = 1", 8, "an operator")]
    [InlineData("foo == 1", 0, "path starting with input")]
    [InlineData("len(input.x", 11, "')'")]
    [InlineData("'open", 0, "closing '")]
    [InlineData("", 0, "a condition")]
    public void SyntaxErrorsNamePositionAndExpectation(string text, int position, string expected)
    {
        var error = Assert.Throws<ExpressionSyntaxException>(() => Condition.Parse(text));
        Assert.Equal(position, error.Position);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ListsReferences()
    {
        var condition = Condition.Parse("item.rating > 4 and steps.fetch.output.count > 0 or ${context.tier} == 'PRO'");
        Assert.Equal(
            [
                new ExpressionReference("item", null, "rating", "item.rating", "$"),
                new ExpressionReference("steps", "fetch", "count", "steps.fetch.output.count", "$"),
                new ExpressionReference("context", null, "tier", "context.tier", "$"),
            ],
            condition.References);
    }

    [Fact]
    public void ParsedConditionsAreCached() => Assert.Same(Condition.Parse("input.n > 1"), Condition.Parse("input.n > 1"));
}
