using System.Diagnostics;
using LlmWorkflow.AppHost.Hosting;

namespace LlmWorkflow.Tests.Hosting;

public sealed class ChildProcessTests
{
    [Fact]
    public async Task PrefixesOutputAndReportsAnUnexpectedExit()
    {
        var output = new StringWriter();
        await using var child = new ChildProcess("shell", Shell("echo hi; echo oops >&2; exit 3"), new ResourceConsole(output, useColor: false));
        var reported = new TaskCompletionSource<ChildProcess>();
        child.ExitedUnexpectedly += reported.SetResult;

        child.Start();

        Assert.Equal(3, await child.Exited.WaitAsync(TestContext.Current.CancellationToken));
        Assert.Same(child, await reported.Task.WaitAsync(TestContext.Current.CancellationToken));
        Assert.Equal(ResourceState.Exited, child.State);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("[shell] hi", lines);
        Assert.Contains("[shell] oops", lines);
        Assert.Equal("[apphost] shell exited unexpectedly with code 3", lines[^1]);
    }

    [Fact]
    public async Task ReportsTheSignalThatKilledIt()
    {
        var output = new StringWriter();
        await using var child = new ChildProcess("worker-2", Shell("exec sleep 60"), new ResourceConsole(output, useColor: false));
        child.Start();

        using (var process = Process.GetProcessById(child.ProcessId!.Value))
        {
            process.Kill();
        }

        Assert.Equal(137, await child.Exited.WaitAsync(TestContext.Current.CancellationToken));
        Assert.Contains("[apphost] worker-2 exited unexpectedly with code 137 (signal KILL)", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadyLineMarksItRunningAndARequestedStopIsNotReported()
    {
        var output = new StringWriter();
        await using var child = new ChildProcess(
            "worker-1", Shell("echo 'info: Worker started as worker-1'; exec sleep 60"), new ResourceConsole(output, useColor: false), readyLogLine: "Worker started");
        child.Start();

        await child.Ready.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(ResourceState.Running, child.State);
        await child.StopAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ResourceState.Stopped, child.State);
        Assert.Equal(128 + UnixSignals.Terminate, await child.Exited);
        Assert.DoesNotContain("unexpectedly", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task KillsAChildThatIgnoresTerminate()
    {
        var output = new StringWriter();
        await using var child = new ChildProcess(
            "stubborn", Shell("trap '' TERM; echo ready; while true; do sleep 0.1; done"), new ResourceConsole(output, useColor: false), readyLogLine: "ready");
        child.Start();
        await child.Ready.WaitAsync(TestContext.Current.CancellationToken);

        await child.StopAsync(TimeSpan.FromMilliseconds(300));

        Assert.Equal(ResourceState.Stopped, child.State);
        Assert.Equal(137, await child.Exited);
        Assert.Contains("[apphost] stubborn did not stop within 0.3 s; killing it", output.ToString(), StringComparison.Ordinal);
    }

    private static ProcessStartInfo Shell(string script)
    {
        var startInfo = new ProcessStartInfo("/bin/sh");
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(script);
        return startInfo;
    }
}
