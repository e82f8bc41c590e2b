using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Tests.Expressions;

[UnitTest]
public sealed class ValueResolverTests
{
    private readonly ExpressionScope scope = ScopeFixtures.Create();

    [Fact]
    public void WholeStringReferenceKeepsJsonType()
    {
        Assert.Equal(3, ValueResolver.Resolve(JsonValue.Create("${input.n}"), scope)!.GetValue<int>());
        Assert.IsType<JsonObject>(ValueResolver.Resolve(JsonValue.Create("${input.location}"), scope));
        Assert.IsType<JsonArray>(ValueResolver.Resolve(JsonValue.Create("${ input.tags }"), scope));
    }

    [Fact]
    public void EmbeddedReferencesRenderAsText()
    {
        var text = ValueResolver.ResolveText("Hi ${input.name}, n=${input.n} r=${input.ratio} loc=${input.location} nick=[${input.nickname}]", scope);
        Assert.Equal("""Hi Ada, n=3 r=0.5 loc={"lat":37.77} nick=[]""", text);
    }

    [Fact]
    public void ResolvesStepOutputsContextAndIndexes()
    {
        Assert.Equal("General Hospital", ValueResolver.ResolveText("${steps.fetch.output.results[0].name}", scope));
        Assert.Equal("Fire Station 1", ValueResolver.ResolveText("${steps.fetch.output.results[-1].name}", scope));
        Assert.Equal("c", ValueResolver.ResolveText("${input.tags[-1]}", scope));
        Assert.Equal("BASIC", ValueResolver.ResolveText("${context.tier}", scope));
        Assert.Equal("1", ValueResolver.ResolveText("${input['weird key']}", scope));
        Assert.Equal("""["General Hospital","Fire Station 1"]""", ValueResolver.ResolveText("${steps.fetch.output.results[*].name}", scope));
    }

    [Fact]
    public void ItemAndIndexComeFromWithItem()
    {
        var itemScope = scope.WithItem(JsonNode.Parse("""{"x": "y"}"""), 4);
        Assert.Equal("y #4", ValueResolver.ResolveText("${item.x} #${index}", itemScope));
        Assert.Equal(4, ValueResolver.Resolve(JsonValue.Create("${index}"), itemScope)!.GetValue<int>());
    }

    [Fact]
    public void WithStepOutputAddsOutputWithoutChangingTheOriginal()
    {
        var next = scope.WithStepOutput("parse", JsonValue.Create("done"));
        Assert.Equal("done", ValueResolver.ResolveText("${steps.parse.output}", next));
        Assert.False(scope.TryGetStepOutput("parse", out _));
    }

    [Fact]
    public void ResolvesDeeplyIntoANewTree()
    {
        var template = JsonNode.Parse("""{"city": "${input.location}", "list": ["${input.n}", "x ${input.name}", 7, true, null], "plain": "text"}""");
        var resolved = ValueResolver.Resolve(template, scope)!;
        Assert.Equal("""{"city":{"lat":37.77},"list":[3,"x Ada",7,true,null],"plain":"text"}""", resolved.ToJsonString());
        Assert.NotSame(scope.Input!["location"], resolved["city"]);
        Assert.Equal("${input.n}", template!["list"]![0]!.GetValue<string>());
    }

    [Fact]
    public void MissingValueNamesPathAndFirstMissingSegment()
    {
        var error = Assert.Throws<WorkflowException>(() => ValueResolver.ResolveText("${input.location.city}", scope));
        Assert.Equal(ErrorCategory.UserError, error.Error.Category);
        Assert.Equal("missing_value", error.Error.Type);
        Assert.Equal("${input.location.city}: 'city' does not exist in input.location", error.Message);

        var index = Assert.Throws<WorkflowException>(() => ValueResolver.ResolveText("${input.tags[5]}", scope));
        Assert.Contains("'[5]' does not exist in input.tags (it has 3 items)", index.Message, StringComparison.Ordinal);

        var step = Assert.Throws<WorkflowException>(() => ValueResolver.ResolveText("${steps.nope.output.x}", scope));
        Assert.Contains("step 'nope' has no output", step.Message, StringComparison.Ordinal);

        var item = Assert.Throws<WorkflowException>(() => ValueResolver.ResolveText("${item.x}", scope));
        Assert.Contains("only available inside", item.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OptionalReferenceYieldsNullAndPresentNullIsNotMissing()
    {
        Assert.Null(ValueResolver.Resolve(JsonValue.Create("${input.absent.deeper?}"), scope));
        Assert.Null(ValueResolver.Resolve(JsonValue.Create("${input.nickname}"), scope));
        Assert.Equal("[]", ValueResolver.ResolveText("[${input.absent?}]", scope));
    }

    [Fact]
    public void DoubleDollarEscapesALiteralReference()
    {
        Assert.Equal("cost ${input.n} is 3", ValueResolver.ResolveText("cost $${input.n} is ${input.n}", scope));
        Assert.Equal("$5", ValueResolver.ResolveText("$5", scope));
    }

    [Theory]
    [InlineData("${input.n", 9)]
    [InlineData("${foo.bar}", 2)]
    [InlineData("${steps.fetch.results}", 13)]
    [InlineData("${input.tags[x]}", 13)]
    [InlineData("${index.x}", 7)]
    public void MalformedExpressionsReportPosition(string text, int position)
    {
        var error = Assert.Throws<ExpressionSyntaxException>(() => ValueResolver.FindReferences(JsonValue.Create(text)));
        Assert.Equal(position, error.Position);
        Assert.Contains($"position {position}", error.Message, StringComparison.Ordinal);

        var runtime = Assert.Throws<WorkflowException>(() => ValueResolver.ResolveText(text, scope));
        Assert.Equal(ErrorCategory.ConfigError, runtime.Error.Category);
        Assert.Equal("expression_syntax", runtime.Error.Type);
    }

    [Fact]
    public void FindReferencesReportsEveryReferenceWithItsJsonPath()
    {
        var config = JsonNode.Parse("""
            {"config": {"prompt_variables": {"city": "${input.location.city}", "n": "${steps.fetch.output.results[0]} and ${context.tier}"},
                        "list": ["${item.name}", "$${input.escaped}"], "odd key": "${index}"}}
            """);
        var references = ValueResolver.FindReferences(config);
        Assert.Equal(
            [
                new ExpressionReference("input", null, "location.city", "${input.location.city}", "$.config.prompt_variables.city"),
                new ExpressionReference("steps", "fetch", "results[0]", "${steps.fetch.output.results[0]}", "$.config.prompt_variables.n"),
                new ExpressionReference("context", null, "tier", "${context.tier}", "$.config.prompt_variables.n"),
                new ExpressionReference("item", null, "name", "${item.name}", "$.config.list[0]"),
                new ExpressionReference("index", null, "", "${index}", "$.config['odd key']"),
            ],
            references);
    }

    [Fact]
    public void FindReferencesSyntaxErrorNamesJsonPath()
    {
        var error = Assert.Throws<ExpressionSyntaxException>(() => ValueResolver.FindReferences(JsonNode.Parse("""{"a": ["${input."]}""")));
        Assert.Equal("$.a[0]", error.JsonPath);
        Assert.StartsWith("$.a[0]: Expected a property name", error.Message, StringComparison.Ordinal);
    }
}
