using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// The size a step output is capped by: the UTF-8 length of its compact JSON, as the framework's own
/// <c>JsonNode.ToJsonString</c> writes it (escapes included), counted without building that string.
/// </summary>
[UnitTest]
public sealed class StepOutputCapTests
{
    public static TheoryData<string> Outputs => new()
    {
        "\"plain\"",
        "42.5",
        """{"text":"Grüß dich, 東京 🙂 <b>&</b> \"quoted\" \\ \n\t","usage":{"input_tokens":21,"cost_usd":0.000012,"estimated":false},"list":[1,"two",null,{"three":[3]}]}""",
        """{"html":"<script>alert('x')</script>","control":"\u0001\u001f","emoji":"👩‍🚀"}""",
    };

    [Theory]
    [MemberData(nameof(Outputs))]
    public void CountsTheBytesToJsonStringWrites(string json)
    {
        var node = JsonNode.Parse(json)!;
        Assert.Equal(Encoding.UTF8.GetByteCount(node.ToJsonString()), StepOutputCap.SizeInBytes(node));
    }

    [Fact]
    public void CountsOutputsLargerThanItsScratchBufferAndAfterThemSmallOnes()
    {
        var large = new JsonObject { ["text"] = string.Concat(Enumerable.Repeat("Straße 東京 \"q\" ", 30_000)) };
        var small = JsonNode.Parse("""{"a":"b"}""")!;
        Assert.Equal(Encoding.UTF8.GetByteCount(large.ToJsonString()), StepOutputCap.SizeInBytes(large));
        Assert.Equal(Encoding.UTF8.GetByteCount(small.ToJsonString()), StepOutputCap.SizeInBytes(small));
    }

    [Fact]
    public async Task CountsOnManyThreadsAtOnce()
    {
        var nodes = Enumerable.Range(0, 64).Select(i => (JsonNode)new JsonObject { ["i"] = i, ["text"] = new string('ü', i * 97) }).ToArray();
        var sizes = await Task.WhenAll(nodes.Select(n => Task.Run(() => Enumerable.Range(0, 50).Select(_ => StepOutputCap.SizeInBytes(n)).Distinct().Single())));
        Assert.Equal(nodes.Select(n => (long)Encoding.UTF8.GetByteCount(n.ToJsonString())), sizes);
    }

    [Fact]
    public void ReplacesAnOutputOverTheCapByItsSizeAndCopiesOneUnderIt()
    {
        // The default encoder writes ü as \u00FC: six bytes each, so a sixth of the cap in ü is over it.
        var over = JsonValue.Create(new string('ü', StepOutputCap.MaxBytes / 6 + 1));
        var written = Encoding.UTF8.GetByteCount(over.ToJsonString());
        Assert.True(written > StepOutputCap.MaxBytes);
        Assert.Equal($$"""{"truncated":true,"size_bytes":{{written}}}""", StepOutputCap.Apply(over)!.ToJsonString());
        var under = new JsonObject { ["a"] = 1 };
        var copy = StepOutputCap.Apply(under)!;
        Assert.NotSame(under, copy);
        Assert.True(JsonNode.DeepEquals(under, copy));
    }
}
