using System.Globalization;
using System.Text.RegularExpressions;
using LlmWorkflow.AppHost;
using LlmWorkflow.Tests.Cli;
using LlmWorkflow.Tests.Engine;
using PortAllocator = LlmWorkflow.Tests.LocalServers.PortAllocator;

namespace LlmWorkflow.Tests.Hosting;

/// <summary>
/// A newcomer's restart in a real terminal (tmux): <c>dotnet run --project LlmWorkflow.AppHost</c> until it runs,
/// Ctrl+C, and the same command again at once (Up, Enter). Ctrl+C returns within 5 s, only when postgres (shut down
/// cleanly), redis-server, the api and the workers have all exited (the orchestrator finishes its own teardown by
/// itself); the second start finds nothing of the first in its way and runs; a double Ctrl+C stops it too; no stack
/// trace anywhere, nothing left running. Alone (TimeBoundTests): the 5 s hold on an idle machine.
/// </summary>
[SystemTest]
[Collection(LlmWorkflow.Tests.Infrastructure.TimeBoundTests.Name)]
public sealed partial class AppHostRestartTerminalTests
{
    // Generous: on a 2-core machine shared with other builds a start took 3-4 minutes (27 s idle).
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(8);

    [Fact]
    public async Task CtrlCStopsEverythingAndAStartRightAfterRuns()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Fail("The terminal test reads processes from /proc: run it on Linux.");
        }

        using var data = new TemporaryDirectory();
        // Ports of its own, so the test runs beside a developer's AppHost and the other tests; no launch profile, so
        // these win over launchSettings.json (which sets the same variables to the developer's fixed ports).
        var environment = string.Join(' ', new[]
        {
            "ASPNETCORE_ENVIRONMENT=Development", "DOTNET_ENVIRONMENT=Development", "ASPIRE_ALLOW_UNSECURED_TRANSPORT=true",
            $"ASPNETCORE_URLS=http://localhost:{Port()}", $"ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://localhost:{Port()}",
            $"ASPIRE_DASHBOARD_MCP_ENDPOINT_URL=http://localhost:{Port()}", $"ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL=http://localhost:{Port()}",
        });
        var start = $"{environment} dotnet run --no-build --no-launch-profile --project LlmWorkflow.AppHost -- " +
            $"--workers 2 --api-port {Port()} --data {data.Path} --AppHost:Infrastructure=local";
        // The second run starts the moment the first returns, as Up and Enter typed at once would.
        using var terminal = TmuxTerminal.Start(RepositoryPaths.Root, $"{TmuxTerminal.WithoutProviderKeys}{start}; echo FIRST=$?; {start}");

        await terminal.WaitForScreenAsync(screen => Count(terminal, StartupSummary.ReadyLine) == 1, StartTimeout);
        var firstRun = AppHostProcesses(terminal);
        AssertHasTheServers(firstRun, "first run");
        terminal.Press("C-c");
        // PostgreSQL gets a fast shutdown (not the orchestrator's kill after its smart shutdown waited 15 s for clients):
        // gone within seconds, its cluster marked "shut down", read before the second start can open it again.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var postgres = firstRun.Where(p => p.Name.StartsWith("postgres", StringComparison.Ordinal)).ToList();
        while (ChildProcesses.Alive(postgres).Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), TestContext.Current.CancellationToken);
        }

        var postgresStop = clock.Elapsed;
        var clusterState = ClusterState(Path.Combine(data.Path, "postgres"));
        await terminal.WaitForScreenAsync(screen => terminal.CaptureHistory().Contains("FIRST=", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        var promptBack = clock.Elapsed;
        // The prompt came back: at that moment nothing of the first run runs any more but the orchestrator's own
        // teardown (dcp), which holds nothing a next start needs and ends by itself within seconds.
        var leftOver = ChildProcesses.Alive(firstRun).Where(p => !ChildProcesses.IsOrchestrator(p)).ToList();
        while (ChildProcesses.Alive(firstRun).Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), TestContext.Current.CancellationToken);
        }

        var wholeStop = clock.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"Ctrl+C: postgres stopped in {postgresStop.TotalSeconds:0.0} s, the prompt came back in {promptBack.TotalSeconds:0.0} s, " +
            $"the orchestrator ended in {wholeStop.TotalSeconds:0.0} s");
        Assert.Equal("shut down", clusterState);
        Assert.True(postgresStop < TimeSpan.FromSeconds(5), $"postgres took {postgresStop.TotalSeconds:0.0} s to stop after Ctrl+C");
        // Issue 80's 5 s. redis-server stops first (0.5 s); a worker's Redis command issued after that waited in the
        // client's backlog for its 5-s timeout (6.5-9.1 s worker exits, an 8.4 s prompt) until RedisStopGuard closed
        // the client at a stop with Redis lost: workers gone in 1.1-1.4 s, the prompt back in about 3.4 s under load.
        Assert.True(promptBack < TimeSpan.FromSeconds(5), $"Ctrl+C took {promptBack.TotalSeconds:0.0} s to give the prompt back");
        Assert.True(leftOver.Count == 0, $"Still running after the first Ctrl+C returned: {Describe(leftOver)}");
        Assert.True(ChildProcesses.Alive(firstRun).Count == 0, $"The orchestrator still ran a minute after Ctrl+C: {Describe(ChildProcesses.Alive(firstRun))}");
        Assert.Contains("FIRST=0", terminal.CaptureHistory(), StringComparison.Ordinal);

        await terminal.WaitForScreenAsync(screen => Count(terminal, StartupSummary.ReadyLine) == 2, StartTimeout);
        var secondRun = AppHostProcesses(terminal);
        AssertHasTheServers(secondRun, "second run");
        // Ctrl+C twice, as an impatient person does.
        terminal.Press("C-c");
        await Task.Delay(TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken);
        terminal.Press("C-c");
        await terminal.WaitForScreenAsync(screen => screen.Contains("EXIT=", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        leftOver = [.. ChildProcesses.Alive(secondRun).Where(p => !ChildProcesses.IsOrchestrator(p))];
        Assert.True(leftOver.Count == 0, $"Still running after the second run's Ctrl+C returned: {Describe(leftOver)}");

        var history = terminal.CaptureHistory();
        Assert.False(StackFrame().IsMatch(history), $"A stack trace in the terminal:\n{history}");
        Assert.DoesNotContain("TaskCanceledException", history, StringComparison.Ordinal);
        Assert.DoesNotContain("lock file \"postmaster.pid\" already exists", history, StringComparison.Ordinal);
        // A clean stop leaves no lock file for the next start to remove (it did after every stop when postgres was killed).
        Assert.DoesNotContain("removing the stale PostgreSQL lock", history, StringComparison.Ordinal);
    }

    /// <summary>pg_controldata's "Database cluster state" of the cluster (as root, as the account that owns it).</summary>
    private static string ClusterState(string cluster)
    {
        var program = Path.Combine(LocalServerPrograms.PostgresBinDirectory(), "pg_controldata");
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, [cluster])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["LC_ALL"] = "C" },
        })!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("Database cluster state:", StringComparison.Ordinal));
        return line?["Database cluster state:".Length..].Trim() ?? $"(no state in: {output})";
    }

    /// <summary>The running AppHost (below the pane's shell and dotnet run) and everything it started.</summary>
    private static IReadOnlyList<ChildProcesses.ProcessEntry> AppHostProcesses(TmuxTerminal terminal)
    {
        var inPane = ChildProcesses.Descendants(terminal.PanePid());
        var appHost = inPane.Where(p => p.Name.StartsWith("LlmWorkflow.App", StringComparison.Ordinal)).ToList();
        Assert.True(appHost.Count == 1, $"One AppHost in the pane: {Describe(inPane)}");
        return [.. inPane, .. ChildProcesses.OfAppHost(appHost[0].Pid).Where(p => inPane.All(q => q.Pid != p.Pid))];
    }

    private static void AssertHasTheServers(IReadOnlyList<ChildProcesses.ProcessEntry> processes, string run)
    {
        // The api and the workers may run as "dotnet": only the servers are named; with them at least api, 2 workers, dcp.
        Assert.True(processes.Count >= 6, $"{run}: only {Describe(processes)}");
        foreach (var name in new[] { "postgres", "redis-server" })
        {
            Assert.True(processes.Any(p => p.Name.StartsWith(name, StringComparison.Ordinal)), $"{run}: no {name} among {Describe(processes)}");
        }
    }

    private static int Count(TmuxTerminal terminal, string line) =>
        Regex.Matches(terminal.CaptureHistory(), Regex.Escape(line)).Count;

    private static string Describe(IEnumerable<ChildProcesses.ProcessEntry> processes) =>
        string.Join(", ", processes.Select(p => $"{p.Name} ({p.Pid.ToString(CultureInfo.InvariantCulture)})"));

    private static string Port() => PortAllocator.GetFreePort().ToString(CultureInfo.InvariantCulture);

    // "   at Namespace.Type.Method(...)" lines of a .NET stack trace.
    [GeneratedRegex(@"^\s+at \S+\(.*\)", RegexOptions.Multiline)]
    private static partial Regex StackFrame();
}
