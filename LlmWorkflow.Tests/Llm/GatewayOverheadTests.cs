using System.Diagnostics;

namespace LlmWorkflow.Tests.Llm;

public sealed class GatewayOverheadTests
{
    [Fact]
    public async Task GatewayAddsLittleToAProviderCall()
    {
        var gateway = TestGateways.Create(TestGateways.Options());
        var request = TestGateways.Ask("mock/echo", new string('x', 4000));
        for (var i = 0; i < 200; i++)
        {
            await gateway.CompleteAsync(request, TestContext.Current.CancellationToken);
        }

        const int calls = 2000;
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < calls; i++)
        {
            await gateway.CompleteAsync(request, TestContext.Current.CancellationToken);
        }

        var perCall = Stopwatch.GetElapsedTime(started) / calls;
        TestContext.Current.TestOutputHelper?.WriteLine($"per call: {perCall.TotalMicroseconds:0.0} µs");
        Assert.True(perCall < TimeSpan.FromMicroseconds(200), $"{perCall.TotalMicroseconds:0.0} µs per call");
    }
}
