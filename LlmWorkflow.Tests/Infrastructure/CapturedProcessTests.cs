using System.Diagnostics;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>The child-process helper every out-of-process test starts through: both streams, exits and hangs.</summary>
[IntegrationTest]
public sealed class CapturedProcessTests
{
    [Fact]
    public async Task ALineOnStandardErrorCountsAndAnExitAfterItIsNoFailure()
    {
        await using var process = CapturedProcess.Start(new ProcessStartInfo("sh", ["-c", "echo starting; echo 'ready on stderr' >&2"]));

        var line = await process.WaitForLineAsync(l => l.StartsWith("ready", StringComparison.Ordinal), TimeSpan.FromMinutes(1), "waiting for ready");

        Assert.Equal("ready on stderr", line);
        await process.Process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(["ready on stderr", "starting"], process.Lines.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task AChildThatExitsFirstFailsWithItsExitCodeAndWhatItSaid()
    {
        await using var process = CapturedProcess.Start(new ProcessStartInfo("sh", ["-c", "echo 'no config found' >&2; exit 3"]));

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(
            () => process.WaitForLineAsync(l => l.Contains("ready", StringComparison.Ordinal), TimeSpan.FromMinutes(1), "The tool did not start"));

        Assert.Contains("The tool did not start: the process exited with 3 first", failure.Message, StringComparison.Ordinal);
        Assert.Contains("no config found", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHungChildTimesOutAndIsKilledOnDispose()
    {
        var process = CapturedProcess.Start(new ProcessStartInfo("sleep", ["600"]));
        var pid = process.Process.Id;
        await using (process)
        {
            var failure = await Assert.ThrowsAsync<TimeoutException>(
                () => process.WaitForLineAsync(_ => true, TimeSpan.FromMilliseconds(300), "waiting for anything"));
            Assert.Contains("waiting for anything: not within 0 s", failure.Message, StringComparison.Ordinal);
        }

        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid));
    }
}
