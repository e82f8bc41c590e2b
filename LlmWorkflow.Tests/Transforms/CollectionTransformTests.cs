using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Tests.Transforms;

[UnitTest]
public sealed class CollectionTransformTests
{
    private const string Places = """
        [{"name": "Clinic", "rating": 4.5, "types": ["hospital", "health"], "geometry": {"location": {"lat": 1.5}}},
         {"name": "Station", "rating": 3, "types": ["fire_station"], "geometry": {"location": {"lat": 2}}},
         {"name": "Pharmacy", "types": ["pharmacy", "health"]}]
        """;

    [Fact]
    public void ExtractFieldsPicksPathsFromEachItem() => Assert.Equal(
        """[{"name":"Clinic","lat":1.5,"types":["hospital","health"]},{"name":"Station","lat":2,"types":["fire_station"]},{"name":"Pharmacy","lat":null,"types":["pharmacy","health"]}]""",
        TransformRunner.RunJson("""{"operation": "extract_fields", "input": "${input}", "fields": {"name": "name", "lat": "geometry.location.lat", "types": "types[*]"}}""", Places));

    [Fact]
    public void ExtractFieldsFromOneObjectWithPathList() => Assert.Equal(
        """{"status":"OK","results[*].name":["Clinic","Station","Pharmacy"]}""",
        TransformRunner.RunJson("""{"operation": "extract_fields", "input": "${input}", "fields": ["status", "results[*].name"]}""", $$"""{"status": "OK", "results": {{Places}}}"""));

    [Fact]
    public void ExtractFieldsOfAnEmptyArrayIsEmpty() =>
        Assert.Equal("[]", TransformRunner.RunJson("""{"operation": "extract_fields", "input": "${input}", "fields": ["a"]}""", "[]"));

    [Theory]
    [InlineData("\"text\"", "string")]
    [InlineData("null", "null")]
    [InlineData("[1]", "number")]
    public void ExtractFieldsRejectsNonObjects(string input, string kind)
    {
        var error = TransformRunner.Fail("""{"operation": "extract_fields", "input": "${input}", "fields": ["a"]}""", JsonNode.Parse(input));
        Assert.Equal(ErrorCategory.UserError, error.Category);
        Assert.Equal("invalid_input", error.Type);
        Assert.StartsWith("extract_fields: 'input' must be", error.Message, StringComparison.Ordinal);
        Assert.EndsWith($"got {kind}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FilterKeepsItemsMatchingTheCondition() => Assert.Equal(
        ["Clinic", "Pharmacy"],
        JsonNode.Parse(TransformRunner.RunJson("""{"operation": "filter", "input": "${input}", "condition": "item.types contains 'health' and (item.rating >= 4 or not exists(item.rating))"}""", Places))!
            .AsArray().Select(p => p!["name"]!.GetValue<string>()));

    [Fact]
    public void FilterCanUseIndexAndScope()
    {
        var scope = new ExpressionScope(JsonNode.Parse(Places), new Dictionary<string, JsonNode?>(), JsonNode.Parse("""{"min": 3}""")!.AsObject());
        var kept = TransformRunner.Run("""{"operation": "filter", "input": "${input}", "condition": "index > 0 and item.rating >= context.min"}""", scope: scope);
        Assert.Equal("Station", kept![0]!["name"]!.GetValue<string>());
        Assert.Single(kept.AsArray());
    }

    [Fact]
    public void FilterRejectsNonArrayInput()
    {
        var error = TransformRunner.Fail("""{"operation": "filter", "input": "${input}", "condition": "item"}""", JsonNode.Parse("""{"a": 1}"""));
        Assert.Equal("filter: 'input' must be an array, got object", error.Message);
    }

    [Fact]
    public void MapRendersATemplatePerItem() => Assert.Equal(
        """["0. Clinic (4.5)","1. Station (3)","2. Pharmacy ()"]""",
        TransformRunner.RunJson("""{"operation": "map", "input": "${input}", "template": "${index}. {{name}} ({{rating}})"}""", Places));

    [Fact]
    public void MapBuildsTypedObjectsFromFieldExpressions() => Assert.Equal(
        """[{"title":"Clinic","first_type":"hospital","position":0},{"title":"Station","first_type":"fire_station","position":1}]""",
        TransformRunner.RunJson("""{"operation": "map", "input": "${input}", "fields": {"title": "${item.name}", "first_type": "${item.types[0]}", "position": "${index}"}}""",
            """[{"name": "Clinic", "types": ["hospital"]}, {"name": "Station", "types": ["fire_station"]}]"""));

    [Fact]
    public void MapFailsOnMissingValueInFields()
    {
        var error = TransformRunner.Fail("""{"operation": "map", "input": "${input}", "fields": {"r": "${item.rating}"}}""", JsonNode.Parse(Places));
        Assert.Equal("missing_value", error.Type);
        Assert.Contains("'rating' does not exist in item", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JoinUsesSeparatorTemplateAndSkipsNulls()
    {
        Assert.Equal("\"- Clinic\\n- Station\\n- Pharmacy\"", TransformRunner.RunJson("""{"operation": "join", "input": "${input}", "separator": "\n", "template": "- {{name}}"}""", Places));
        Assert.Equal("\"a, 2, {\\\"b\\\":1}\"", TransformRunner.RunJson("""{"operation": "join", "input": "${input}"}""", """["a", null, 2, {"b": 1}]"""));
        Assert.Equal("\"\"", TransformRunner.RunJson("""{"operation": "join", "input": "${input}"}""", "[]"));
    }

    [Fact]
    public void SortIsStableWithNullsLastInBothDirections()
    {
        const string items = """[{"k": 2, "id": "a"}, {"id": "b"}, {"k": 1, "id": "c"}, {"k": 2, "id": "d"}, {"k": null, "id": "e"}]""";
        string Ids(string direction) => string.Concat(JsonNode.Parse(TransformRunner.RunJson($$"""{"operation": "sort", "input": "${input}", "by": "k", "direction": "{{direction}}"}""", items))!
            .AsArray().Select(i => i!["id"]!.GetValue<string>()));
        Assert.Equal("cadbe", Ids("asc"));
        Assert.Equal("adcbe", Ids("desc"));
    }

    [Fact]
    public void SortComparesNumbersNumericallyAndStringsOrdinally()
    {
        Assert.Equal("[2,10,\"10\",\"9\",\"b\"]", TransformRunner.RunJson("""{"operation": "sort", "input": "${input}"}""", """["b", 10, "9", 2, "10"]"""));
        Assert.Equal("[2,\"9\",10,\"10\"]", TransformRunner.RunJson("""{"operation": "sort", "input": "${input}", "compare_as": "number"}""", """[10, "9", 2, "10"]"""));
        Assert.Equal("[10,\"9\",\"A\",\"b\"]", TransformRunner.RunJson("""{"operation": "sort", "input": "${input}", "compare_as": "string", "ignore_case": true}""", """["b", "9", 10, "A"]"""));
    }

    [Fact]
    public void UniqueKeepsFirstByKeyOrWholeValue()
    {
        Assert.Equal("[1,\"1\",{\"a\":1},null]", TransformRunner.RunJson("""{"operation": "unique", "input": "${input}"}""", """[1, 1.0, "1", {"a": 1}, {"a": 1}, null, null]"""));
        Assert.Equal("""[{"id":"x","n":1},{"id":"y","n":3}]""",
            TransformRunner.RunJson("""{"operation": "unique", "input": "${input}", "by": "id", "ignore_case": true}""", """[{"id": "x", "n": 1}, {"id": "X", "n": 2}, {"id": "y", "n": 3}]"""));
    }

    [Fact]
    public void CountCountsItemsPropertiesCharactersAndMatches()
    {
        Assert.Equal("3", TransformRunner.RunJson("""{"operation": "count", "input": "${input}"}""", Places));
        Assert.Equal("2", TransformRunner.RunJson("""{"operation": "count", "input": "${input}", "condition": "item.types contains 'health'"}""", Places));
        Assert.Equal("2", TransformRunner.RunJson("""{"operation": "count", "input": "${input}"}""", """{"a": 1, "b": 2}"""));
        Assert.Equal("5", TransformRunner.RunText("""{"operation": "count", "input": "${input}"}""", "hello"));
        Assert.Equal("invalid_input", TransformRunner.Fail("""{"operation": "count", "input": "${input}"}""", JsonValue.Create(5)).Type);
        Assert.Equal("invalid_input", TransformRunner.Fail("""{"operation": "count", "input": "${input}"}""", null).Type);
    }

    [Fact]
    public void FlattenSplicesNestedArraysToDepth()
    {
        Assert.Equal("[1,2,3,[4]]", TransformRunner.RunJson("""{"operation": "flatten", "input": "${input}"}""", "[[1, 2], [3, [4]]]"));
        Assert.Equal("[1,2,3,4,\"x\"]", TransformRunner.RunJson("""{"operation": "flatten", "input": "${input}", "depth": 5}""", """[[1, 2], [3, [4]], "x"]"""));
        Assert.Equal("[]", TransformRunner.RunJson("""{"operation": "flatten", "input": "${input}"}""", "[]"));
    }

    [Fact]
    public void MergeCombinesObjectsShallowOrDeepAndConcatenatesArrays()
    {
        var scope = new ExpressionScope(null, new Dictionary<string, JsonNode?>
        {
            ["a"] = JsonNode.Parse("""{"x": 1, "nested": {"p": 1, "q": 1}}"""),
            ["b"] = JsonNode.Parse("""{"y": 2, "nested": {"q": 2}}"""),
            ["none"] = null,
        }, null);
        Assert.Equal("""{"x":1,"nested":{"q":2},"y":2}""",
            TransformRunner.Run("""{"operation": "merge", "inputs": ["${steps.a.output}", "${steps.none.output}", "${steps.b.output}"]}""", scope: scope)!.ToJsonString());
        Assert.Equal("""{"x":1,"nested":{"p":1,"q":2},"y":2}""",
            TransformRunner.Run("""{"operation": "merge", "inputs": ["${steps.a.output}", "${steps.b.output}"], "deep": true}""", scope: scope)!.ToJsonString());
        Assert.Equal("""{"p":1,"q":1}""", scope.StepOutputs["a"]!["nested"]!.ToJsonString());
        Assert.Equal("[1,2,3]", TransformRunner.RunJson("""{"operation": "merge", "input": "${input}"}""", "[[1], [2, 3]]"));
        Assert.Equal("invalid_input", TransformRunner.Fail("""{"operation": "merge", "input": "${input}"}""", JsonNode.Parse("""[[1], {"a": 1}]""")).Type);
    }

    [Fact]
    public void DefaultReplacesMissingNullOrEmptyValues()
    {
        Assert.Equal("[]", TransformRunner.RunJson("""{"operation": "default", "input": "${input.results}", "value": []}""", "{}"));
        Assert.Equal("\"friend\"", TransformRunner.RunJson("""{"operation": "default", "input": "${input.nick}", "value": "friend"}""", """{"nick": "  "}"""));
        Assert.Equal("\"  \"", TransformRunner.RunJson("""{"operation": "default", "input": "${input.nick}", "value": "friend", "when": "null"}""", """{"nick": "  "}"""));
        Assert.Equal("{\"a\":1}", TransformRunner.RunJson("""{"operation": "default", "input": "${input}", "value": {}}""", """{"a": 1}"""));
    }

    [Fact]
    public void TruncateArraysByCount() =>
        Assert.Equal("[1,2]", TransformRunner.RunJson("""{"operation": "truncate", "input": "${input}", "max_items": 2}""", "[1, 2, 3]"));
}
