using System.Globalization;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// How much CPU the services' runtimes have spent recompiling hot methods at tier 1, read from /proc: the ticks of
/// every thread named <c>.NET Tiered Compilation Worker</c> (15 characters of it in <c>comm</c>) in the API and worker
/// processes. The runtime starts that thread on demand and lets it exit when idle, so the count accumulates each
/// thread's growth since it was last seen instead of summing the living ones. A warm-up that ends while it still grows
/// leaves the tail of the services' JIT in the measured window (the published worker recompiled for about 15 s after
/// its start in the agent scenario, whatever the number of warm-up jobs).
/// </summary>
internal sealed class TieredCompilationWatch(BenchEnvironment environment)
{
    private const string ThreadName = ".NET Tiered Com";
    private readonly Dictionary<(int Pid, int Tid), long> _lastSeen = [];
    private long _ticks;

    /// <summary>The ticks (1/100 s) spent in tier-1 recompilation so far, across the service processes.</summary>
    public long Ticks()
    {
        foreach (var (_, process) in environment.Services)
        {
            foreach (var (tid, ticks) in CompilationThreads(process.Id))
            {
                _ticks += ticks - _lastSeen.GetValueOrDefault((process.Id, tid));
                _lastSeen[(process.Id, tid)] = ticks;
            }
        }

        return _ticks;
    }

    private static IEnumerable<(int Tid, long Ticks)> CompilationThreads(int pid)
    {
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (IOException)
        {
            yield break;
        }

        foreach (var task in tasks)
        {
            string comm, stat;
            try
            {
                comm = File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n');
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread exited between listing and reading
            }

            if (comm != ThreadName)
            {
                continue;
            }

            // Fields after the command name (which may hold spaces) start at the last ')': utime is 14, stime 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            yield return (int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture), ticks);
        }
    }
}
