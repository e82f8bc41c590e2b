using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Tests.Transforms;

[UnitTest]
public sealed class TextTransformTests
{
    [Fact]
    public void SplitBySeparatorTrimsAndDropsEmptyParts()
    {
        Assert.Equal("""["a","b","c"]""", TransformRunner.RunText("""{"operation": "split", "input": "${input}"}""", "a\r\n b \n\nc\n"));
        Assert.Equal("""["a"," b",""]""", TransformRunner.RunText("""{"operation": "split", "input": "${input}", "separator": ",", "trim": false, "remove_empty": false}""", "a, b,"));
        Assert.Equal("[]", TransformRunner.RunText("""{"operation": "split", "input": "${input}"}""", ""));
    }

    [Fact]
    public void SplitByRegex() =>
        Assert.Equal("""["earthquake","fire","flood"]""", TransformRunner.RunText("""{"operation": "split", "input": "${input}", "pattern": "\\s*[,;]\\s*"}""", "earthquake, fire;flood"));

    [Fact]
    public void SplitRejectsNonString() =>
        Assert.Equal("split: 'input' must be a string, got array", TransformRunner.Fail("""{"operation": "split", "input": "${input}"}""", new JsonArray()).Message);

    [Fact]
    public void RegexExtractNamedGroupsFirstOrAll()
    {
        const string text = "Police: 415-553-0123\nFire: 415-558-3200\nNotes only";
        Assert.Equal("""{"service":"Police","phone":"415-553-0123"}""",
            TransformRunner.RunText("""{"operation": "regex_extract", "input": "${input}", "pattern": "(?<service>\\w+): (?<phone>[\\d-]+)"}""", text));
        Assert.Equal("""[{"service":"Police","phone":"415-553-0123"},{"service":"Fire","phone":"415-558-3200"}]""",
            TransformRunner.RunText("""{"operation": "regex_extract", "input": "${input}", "pattern": "(?<service>\\w+): (?<phone>[\\d-]+)", "all": true}""", text));
        Assert.Equal("""["Police","Fire"]""",
            TransformRunner.RunText("""{"operation": "regex_extract", "input": "${input}", "pattern": "^(\\w+):", "all": true, "multiline": true}""", text));
        Assert.Equal("null", TransformRunner.RunText("""{"operation": "regex_extract", "input": "${input}", "pattern": "zzz", "ignore_case": true}""", text));
    }

    [Fact]
    public void RegexExtractTimesOutOnCatastrophicBacktracking()
    {
        var error = TransformRunner.Fail("""{"operation": "regex_extract", "input": "${input}", "pattern": "^(a+)+$"}""", JsonValue.Create(new string('a', 40_000) + "!"));
        Assert.Equal(ErrorCategory.UserError, error.Category);
        Assert.Equal("regex_timeout", error.Type);
    }

    [Theory]
    [InlineData("{\"a\": 1}", "{\"a\":1}")]
    [InlineData("Sure! Here is the JSON:\n```json\n{\"contacts\": [{\"name\": \"x\"}],}\n```\nLet me know.", "{\"contacts\":[{\"name\":\"x\"}]}")]
    [InlineData("The list [see below] is: [1, 2, 3] as asked", "[1,2,3]")]
    [InlineData("{\"text\": \"a } inside\"} trailing", "{\"text\":\"a } inside\"}")]
    [InlineData("// comment\n{\"a\": /* x */ 2}", "{\"a\":2}")]
    [InlineData("I found [3] places:\n{\"places\": [1]}", "{\"places\":[1]}")]
    [InlineData("```\n[{\"a\": 1}]\n```", "[{\"a\":1}]")]
    public void ParseJsonToleratesFencesProseAndTrailingCommas(string text, string expected) =>
        Assert.Equal(expected, TransformRunner.RunText("""{"operation": "parse_json", "input": "${input}"}""", text));

    [Fact]
    public void ParseJsonPassesParsedValuesThrough() =>
        Assert.Equal("{\"a\":[1]}", TransformRunner.RunJson("""{"operation": "parse_json", "input": "${input}"}""", "{\"a\": [1]}"));

    [Fact]
    public void ParseJsonFailsWithSnippet()
    {
        var error = TransformRunner.Fail("""{"operation": "parse_json", "input": "${input}"}""", JsonValue.Create("I cannot help with {that"));
        Assert.Equal(ErrorCategory.UserError, error.Category);
        Assert.Equal("parse_error", error.Type);
        Assert.Contains("\"I cannot help with {that\"", error.Message, StringComparison.Ordinal);
        Assert.Equal("invalid_input", TransformRunner.Fail("""{"operation": "parse_json", "input": "${input}"}""", null).Type);
    }

    [Theory]
    [InlineData("""{"max_chars": 10}""", "Hello brave new world", "Hello bra…")]
    [InlineData("""{"max_chars": 10, "suffix": " [more]"}""", "Hello brave new world", "Hel [more]")]
    [InlineData("""{"max_chars": 50}""", "short", "short")]
    [InlineData("""{"max_words": 2}""", "Hello  brave new world", "Hello  brave…")]
    [InlineData("""{"max_words": 4}""", "Hello brave new world", "Hello brave new world")]
    [InlineData("""{"max_chars": 4, "suffix": ""}""", "ab😀cd", "ab😀")]
    [InlineData("""{"max_chars": 3, "suffix": ""}""", "ab😀cd", "ab")]
    public void TruncateStrings(string options, string text, string expected)
    {
        var config = JsonNode.Parse(options)!.AsObject();
        config["operation"] = "truncate";
        config["input"] = "${input}";
        Assert.Equal(expected, TransformRunner.Run(config.ToJsonString(), JsonValue.Create(text))!.GetValue<string>());
    }

    [Fact]
    public void TruncateNeedsALimitForTheInputKind()
    {
        var error = TransformRunner.Fail("""{"operation": "truncate", "input": "${input}", "max_items": 2}""", JsonValue.Create("text"));
        Assert.Equal(ErrorCategory.ConfigError, error.Category);
        Assert.Contains("'max_chars'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TemplateRendersVariablesAndScopeReferences()
    {
        var scope = new ExpressionScope(JsonNode.Parse("""{"city": "San Francisco", "family_size": 4}"""), new Dictionary<string, JsonNode?>(), JsonNode.Parse("""{"tier": "BASIC"}""")!.AsObject());
        Assert.Equal("Plan for San Francisco (4 people), tier BASIC, missing: []",
            TransformRunner.Run("""{"operation": "template", "template": "Plan for {{city}} ({{ family_size }} people), tier ${context.tier}, missing: [{{nickname}}]", "variables": "${input}"}""", scope: scope)!
                .GetValue<string>());
        Assert.Equal("San Francisco", TransformRunner.Run("""{"operation": "template", "input": "${input}", "template": "{{city}}"}""", scope: scope)!.GetValue<string>());
    }
}
