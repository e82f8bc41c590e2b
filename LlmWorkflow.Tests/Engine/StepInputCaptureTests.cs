using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Tests.Engine;

[UnitTest]
public sealed class StepInputCaptureTests
{
    [Fact]
    public void InputValuesUnderSecretNamesAndSecretLookingTextAreRedacted()
    {
        var input = JsonNode.Parse("""
            {"api_key": "abc", "nested": {"password": "hunter2", "ok": "fine"}, "list": [{"access_token": "t"}],
             "max_tokens": 5, "keyword": "kept", "url": "https://example.test/y?key=SECRET123&q=1", "note": "use sk-abcdefghijklmnop"}
            """);

        var captured = StepInputCapture.Input(input)!;

        Assert.Equal("[REDACTED]", (string?)captured["api_key"]);
        Assert.Equal("[REDACTED]", (string?)captured["nested"]!["password"]);
        Assert.Equal("fine", (string?)captured["nested"]!["ok"]);
        Assert.Equal("[REDACTED]", (string?)captured["list"]![0]!["access_token"]);
        Assert.Equal(5, (int)captured["max_tokens"]!);
        Assert.Equal("kept", (string?)captured["keyword"]);
        Assert.Equal("https://example.test/y?key=[REDACTED]&q=1", (string?)captured["url"]);
        Assert.Equal("use [REDACTED]", (string?)captured["note"]);
        // The step's own value is untouched (it is still what the step uses).
        Assert.Equal("abc", (string?)input!["api_key"]);
    }

    [Fact]
    public void LargeInputBecomesATruncatedMarkerWithItsSizeAndAPreview()
    {
        var input = new JsonObject { ["text"] = new string('x', 40_000) };
        var size = Encoding.UTF8.GetByteCount(input.ToJsonString());

        var captured = StepInputCapture.Input(input)!;

        Assert.True((bool)captured["truncated"]!);
        Assert.Equal(size, (int)captured["size_bytes"]!);
        var preview = (string)captured["preview"]!;
        Assert.StartsWith("{\"text\":\"xxx", preview, StringComparison.Ordinal);
        Assert.True(Encoding.UTF8.GetByteCount(captured.ToJsonString()) <= StepInputCapture.MaxInputBytes, "the marker fits the cap");
        Assert.Null(StepInputCapture.Input(null));
    }

    [Fact]
    public void LongPromptIsCutWithAMarkerAndCleanedForStorage()
    {
        var prompt = "[user]\n" + new string('a', 40_000);

        var captured = StepInputCapture.Prompt(prompt)!;

        var marker = $"… [truncated: {prompt.Length - StepInputCapture.MaxPromptCharacters} more characters]";
        Assert.EndsWith(marker, captured, StringComparison.Ordinal);
        Assert.Equal(StepInputCapture.MaxPromptCharacters + marker.Length, captured.Length);
        Assert.Equal("[user]\nKey [REDACTED] and a NUL:", StepInputCapture.Prompt("[user]\nKey sk-abcdefghijklmnop and a NUL:\0"));
    }
}
