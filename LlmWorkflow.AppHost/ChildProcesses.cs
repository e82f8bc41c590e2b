using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;

namespace LlmWorkflow.AppHost;

/// <summary>
/// Ctrl+C returns only when everything has stopped. The orchestrator stops the resources' processes (postgres,
/// redis-server, the api and the workers) after the AppHost's own host has returned, so without this the prompt came
/// back while they still ran for seconds — and a start typed at once found postgres's lock file taken. When the
/// application starts stopping, this takes the AppHost's processes (<see cref="OfAppHost"/>, read from <c>/proc</c>:
/// Linux only; elsewhere it does nothing) and, after the host has returned, waits for each of them to end, saying so
/// in one line; those still running after <see cref="Patience"/>, or when Ctrl+C is pressed again, are killed.
/// </summary>
public sealed class ChildProcesses
{
    /// <summary>How long the AppHost waits for its processes to stop on their own (postgres's fast shutdown, the workers' drain).</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>How long a killed process may take to be gone (SIGKILL cannot be refused; this is the kernel's teardown).</summary>
    private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(5);

    private IReadOnlyList<ProcessEntry> _stopping = [];

    /// <summary>Takes the descendants when <paramref name="app"/> starts stopping.</summary>
    public static ChildProcesses Watch(IHost app)
    {
        var watch = new ChildProcesses();
        // Only as a program of its own: under Aspire.Hosting.Testing the AppHost runs inside the test host, whose other
        // children (the tests' own postgres, redis-server, browsers) and other AppHosts' orchestrators are not its to take.
        if (OperatingSystem.IsLinux() && System.Reflection.Assembly.GetEntryAssembly() == typeof(ChildProcesses).Assembly)
        {
            app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => watch._stopping = OfAppHost(Environment.ProcessId));
        }

        return watch;
    }

    /// <summary>
    /// Waits until every process taken at the stop has ended, the orchestrator's own aside; returns false when some had
    /// to be killed. The orchestrator (dcp) tears its controllers down for 3-5 s after the last server, the api and the
    /// workers have exited (issue 80: measured 1.7 s for those, 6.6 s with dcp). It holds nothing a next start needs
    /// (postgres's lock, the ports and redis's files are free by then) and ends by itself, so it gets
    /// <see cref="OrchestratorGrace"/> and then the prompt comes back.
    /// </summary>
    public bool WaitForAll()
    {
        var remaining = Alive(_stopping);
        if (remaining.Count == 0)
        {
            return true;
        }

        Console.WriteLine($"[apphost] stopping: waiting for {Describe(remaining)} to exit (Ctrl+C again kills them)");
        using var again = new ManualResetEventSlim();
        using var registration = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            again.Set();
        });
        var clock = Stopwatch.StartNew();
        var orchestratorSince = TimeSpan.Zero;
        while ((remaining = Alive(remaining)).Count > 0)
        {
            var servers = remaining.Where(p => !IsOrchestrator(p)).ToList();
            if (servers.Count == 0)
            {
                orchestratorSince = orchestratorSince == TimeSpan.Zero ? clock.Elapsed : orchestratorSince;
                if (clock.Elapsed - orchestratorSince > OrchestratorGrace)
                {
                    Console.WriteLine($"[apphost] stopped everything in {orchestratorSince.TotalSeconds:0.0} s " +
                                      $"(the orchestrator, {Describe(remaining)}, finishes its own cleanup)");
                    return true;
                }
            }

            if (again.IsSet || clock.Elapsed > Patience)
            {
                Console.WriteLine($"[apphost] {(again.IsSet ? "Ctrl+C again" : $"still running after {Patience.TotalSeconds:0} s")}: killing {Describe(remaining)}");
                Kill(remaining);
                // A kill is delivered, not done: the prompt comes back only once the killed processes are gone.
                remaining.ForEach(entry => WaitForExit(entry, KillGrace));
                return false;
            }

            again.Wait(TimeSpan.FromMilliseconds(50));
        }

        Console.WriteLine($"[apphost] stopped everything in {clock.Elapsed.TotalSeconds:0.0} s");
        return true;
    }

    /// <summary>How long the prompt waits for the orchestrator once everything it ran has exited.</summary>
    public static readonly TimeSpan OrchestratorGrace = TimeSpan.FromSeconds(1);

    /// <summary>Aspire's orchestrator: its api server, its controllers and the monitors it runs beside each process.</summary>
    public static bool IsOrchestrator(ProcessEntry process) => process.Name == "dcp";

    /// <summary>A process as read from <c>/proc/[pid]/stat</c>; its start time tells it from a later process with the same id.</summary>
    public sealed record ProcessEntry(int Pid, int ParentPid, string Name, long StartTime);

    /// <summary>
    /// Every process an AppHost started: its descendants, and Aspire's orchestrator (dcp), which detaches from the
    /// AppHost (so it is no descendant) but watches it (<c>--monitor &lt;pid&gt;</c>), with all the orchestrator started
    /// (postgres, redis-server, the api, the workers).
    /// </summary>
    public static IReadOnlyList<ProcessEntry> OfAppHost(int appHostPid)
    {
        var all = All().ToList();
        var monitors = all.Where(p => Monitors(p.Pid, appHostPid)).ToList();
        return [.. Descendants(all, appHostPid).Concat(monitors).Concat(monitors.SelectMany(m => Descendants(all, m.Pid))).DistinctBy(p => p.Pid)];
    }

    // The orchestrator's command line names the process it watches: "--monitor <pid>" or "--monitor=<pid>".
    private static bool Monitors(int pid, int watched)
    {
        string[] args;
        try
        {
            args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }

        var text = watched.ToString(CultureInfo.InvariantCulture);
        return args.Select((arg, i) => arg == $"--monitor={text}" || (arg == "--monitor" && i + 1 < args.Length && args[i + 1] == text)).Any(match => match);
    }

    /// <summary>Every process below <paramref name="root"/>, children first seen first.</summary>
    public static IReadOnlyList<ProcessEntry> Descendants(int root) => Descendants(All().ToList(), root);

    private static IReadOnlyList<ProcessEntry> Descendants(IReadOnlyList<ProcessEntry> all, int root)
    {
        var byParent = all.ToLookup(p => p.ParentPid);
        var found = new List<ProcessEntry>();
        var queue = new Queue<int>([root]);
        while (queue.TryDequeue(out var parent))
        {
            foreach (var child in byParent[parent])
            {
                found.Add(child);
                queue.Enqueue(child.Pid);
            }
        }

        return found;
    }

    private static IEnumerable<ProcessEntry> All()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Read(pid) is { } entry)
            {
                yield return entry;
            }
        }
    }

    // "pid (comm) state ppid ... starttime(22nd field)": comm may hold spaces and parentheses, so fields count from its last ')'.
    // A zombie (state Z) has ended; its parent has only not reaped it yet.
    private static ProcessEntry? Read(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        var open = stat.IndexOf('(', StringComparison.Ordinal);
        var close = stat.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return null;
        }

        var fields = stat[(close + 2)..].Split(' ');
        return fields.Length > 19 && fields[0] != "Z"
            ? new ProcessEntry(pid, int.Parse(fields[1], CultureInfo.InvariantCulture), stat[(open + 1)..close],
                long.Parse(fields[19], CultureInfo.InvariantCulture))
            : null;
    }

    public static List<ProcessEntry> Alive(IEnumerable<ProcessEntry> processes) =>
        [.. processes.Where(p => Read(p.Pid) is { } now && now.StartTime == p.StartTime)];

    /// <summary>Whether a process runs now (not a zombie), and its name.</summary>
    internal static string? RunningName(int pid) => OperatingSystem.IsLinux() ? Read(pid)?.Name : null;

    /// <summary>Processes whose working directory is <paramref name="directory"/> (how a local redis-server is found).</summary>
    internal static IReadOnlyList<ProcessEntry> WorkingIn(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return [];
        }

        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        return [.. All().Where(p => WorkingDirectory(p.Pid) == target)];
    }

    private static string? WorkingDirectory(int pid)
    {
        try
        {
            return new DirectoryInfo($"/proc/{pid}/cwd").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the process to end; true when it did.</summary>
    internal static bool WaitForExit(ProcessEntry entry, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (Alive([entry]).Count > 0)
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }

            Thread.Sleep(100);
        }

        return true;
    }

    /// <summary>The process with this id as read now, or null when none runs.</summary>
    internal static ProcessEntry? Find(int pid) => OperatingSystem.IsLinux() ? Read(pid) : null;

    private static string Describe(IReadOnlyCollection<ProcessEntry> processes)
    {
        var names = processes.GroupBy(p => p.Name).Select(g => g.Count() == 1 ? g.Key : $"{g.Key} ×{g.Count()}");
        return $"{processes.Count} process{(processes.Count == 1 ? "" : "es")} ({string.Join(", ", names)})";
    }

    private static void Kill(IEnumerable<ProcessEntry> processes)
    {
        foreach (var entry in processes)
        {
            try
            {
                using var process = Process.GetProcessById(entry.Pid);
                process.Kill();
            }
            catch (ArgumentException)
            {
                // Ended meanwhile.
            }
            catch (InvalidOperationException)
            {
                // Ended meanwhile.
            }
        }
    }
}
