using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using EngineTelemetry = LlmWorkflow.Engine.Telemetry;
using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Tests.Llm;

/// <summary>
/// The Aspire dashboard's GenAI view: with <c>Llm:Telemetry:CaptureMessages</c> (off by default) an LLM call's span
/// carries its prompt and answer in the OpenTelemetry GenAI conventions' attributes; without it, neither.
/// </summary>
[UnitTest]
public sealed class GenAiMessageCaptureTests
{
    [Fact]
    public async Task PromptAndAnswerAreOnTheChatSpanOnlyWhenCaptureIsOn()
    {
        var off = await ChatSpanAsync(capture: false);
        Assert.Null(off.GetTagItem(GenAiMessages.InputAttribute));
        Assert.Null(off.GetTagItem(GenAiMessages.OutputAttribute));
        Assert.False(new LlmOptions().Telemetry.CaptureMessages, "capture is opt-in");

        var on = await ChatSpanAsync(capture: true);
        var input = JsonNode.Parse((string)on.GetTagItem(GenAiMessages.InputAttribute)!)!.AsArray();
        Assert.Equal(["system", "user"], input.Select(m => (string)m!["role"]!));
        Assert.Equal("What is the capital of France?", (string)input[1]!["parts"]![0]!["content"]!);
        Assert.Equal("text", (string)input[1]!["parts"]![0]!["type"]!);
        var output = JsonNode.Parse((string)on.GetTagItem(GenAiMessages.OutputAttribute)!)!.AsArray();
        Assert.Equal("assistant", (string)output.Single()!["role"]!);
        Assert.False(string.IsNullOrEmpty((string?)output.Single()!["parts"]![0]!["content"]));
    }

    private static async Task<Activity> ChatSpanAsync(bool capture)
    {
        var marker = Guid.NewGuid().ToString("N");
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == EngineTelemetry.ActivitySource.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var options = TestGateways.Options();
        options.Telemetry.CaptureMessages = capture;
        var gateway = TestGateways.Create(options);

        await gateway.CompleteAsync(TestGateways.Ask("mock/echo", "What is the capital of France?") with { StepId = marker }, TestContext.Current.CancellationToken);

        return spans.Single(span => (string?)span.GetTagItem("llmworkflow.step.id") == marker && span.DisplayName.StartsWith("chat ", StringComparison.Ordinal));
    }
}
