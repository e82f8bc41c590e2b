using System.Diagnostics;
using LlmWorkflow.AppHost;
using Microsoft.Extensions.Hosting;

namespace LlmWorkflow.Tests.Hosting;

/// <summary>
/// The AppHost's stop waits for (and at last kills) the processes it started — but only when it runs as its own program.
/// Inside a test host (Aspire.Hosting.Testing runs the AppHost in-process) the host's other children are the tests'
/// servers and browsers: an AppHost test's stop once killed them and failed every browser test after it.
/// </summary>
[IntegrationTest]
public sealed class ChildProcessesTests
{
    [Fact]
    public async Task InsideATestHostTheStopTakesNoneOfTheHostsChildren()
    {
        var ct = TestContext.Current.CancellationToken;
        using var sibling = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            using var host = Host.CreateApplicationBuilder().Build();
            var watch = ChildProcesses.Watch(host);
            await host.StartAsync(ct);
            await host.StopAsync(ct);

            var clock = Stopwatch.StartNew();
            Assert.True(watch.WaitForAll());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the stop waited {clock.Elapsed} for the test host's children");
            Assert.False(sibling.HasExited);
        }
        finally
        {
            sibling.Kill();
        }
    }
}
