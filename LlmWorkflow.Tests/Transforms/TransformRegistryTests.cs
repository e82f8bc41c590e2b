using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Tests.Transforms;

[UnitTest]
public sealed class TransformRegistryTests
{
    [Fact]
    public void DefaultRegistryHasEveryOperationUnderItsName()
    {
        var registry = TransformRegistry.CreateDefault();
        Assert.Equal(
            ["count", "default", "extract_fields", "filter", "flatten", "join", "map", "markdown_to_json", "merge", "parse_json", "regex_extract", "sort", "split", "template", "truncate", "unique"],
            registry.Names);
        foreach (var name in registry.Names)
        {
            Assert.Equal(name, registry.Get(name).Name);
            Assert.False(string.IsNullOrWhiteSpace(registry.Get(name).Description));
        }
    }

    [Fact]
    public void PerItemOptionsAreDeclaredForTheValidator()
    {
        var registry = TransformRegistry.CreateDefault();
        Assert.Equal(
            ["count: condition", "filter: condition", "join: template", "map: fields", "map: template"],
            registry.Names.SelectMany(name => registry.Get(name).ItemScopedOptions.Select(option => $"{name}: {option}")));
    }

    [Fact]
    public void UnknownOperationListsKnownNames()
    {
        var registry = TransformRegistry.CreateDefault();
        Assert.False(registry.TryGet("pivot", out _));
        var error = Assert.Throws<WorkflowException>(() => registry.Get("pivot")).Error;
        Assert.Equal(ErrorCategory.ConfigError, error.Category);
        Assert.Equal("unknown_transform", error.Type);
        Assert.Contains("extract_fields, filter, flatten", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"operation": "filter", "condition": "item.x >"}""", "$.input", "$.condition")]
    [InlineData("""{"operation": "extract_fields", "input": "${input}", "fields": {"a": "b[?(@.c"}}""", "$.fields.a")]
    [InlineData("""{"operation": "sort", "input": "${input}", "direction": "down", "by": "a["}""", "$.by", "$.direction")]
    [InlineData("""{"operation": "regex_extract", "input": "${input}", "pattern": "(unclosed"}""", "$.pattern")]
    [InlineData("""{"operation": "split", "input": "${input}", "trim": "yes"}""", "$.trim")]
    [InlineData("""{"operation": "map", "input": "${input}"}""", "$")]
    [InlineData("""{"operation": "truncate", "input": "${input}", "max_chars": 0}""", "$.max_chars")]
    [InlineData("""{"operation": "markdown_to_json", "input": "${input}", "sections": {"a": 3}, "split_level": 2}""", "$.split_level", "$.sections.a")]
    [InlineData("""{"operation": "merge", "input": "${input}", "inputs": []}""", "$.inputs")]
    [InlineData("""{"operation": "default", "input": "${input}", "when": "sometimes"}""", "$.value", "$.when")]
    [InlineData("""{"operation": "template", "template": "{{a..b}}"}""", "$.template")]
    public void ValidateReportsEachProblemWhereItIs(string config, params string[] jsonPaths) =>
        Assert.Equal(jsonPaths, TransformRunner.Problems(config).Select(p => p.JsonPath));

    [Fact]
    public void ValidateDoesNotTypeCheckValuesKnownOnlyAtRunTime() =>
        Assert.Empty(TransformRunner.Problems("""{"operation": "truncate", "input": "${input}", "max_chars": "${context.limit}"}"""));
}
