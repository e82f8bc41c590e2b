using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// CPU time per process group (API, workers, PostgreSQL with its backends, Redis, this load generator), read from
/// /proc like pidstat does: user + system time, including exited children that were waited for (so PostgreSQL
/// backends that came and went still count). <see cref="Split"/> turns two readings into milliseconds per job.
/// </summary>
internal sealed class CpuMeter(BenchEnvironment environment)
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    public Dictionary<string, double> Read()
    {
        var seconds = new Dictionary<string, double> { ["api"] = 0, ["workers"] = 0, ["postgres"] = 0, ["redis"] = 0 };
        foreach (var (role, process) in environment.Services)
        {
            seconds[role == "api" ? "api" : "workers"] += ProcessSeconds(process.Id, withChildren: false);
        }

        if (environment.PostgresProcessId is { } postmaster)
        {
            seconds["postgres"] = ProcessSeconds(postmaster, withChildren: true) + ChildrenOf(postmaster).Sum(pid => ProcessSeconds(pid, withChildren: true));
        }

        if (environment.RedisProcessId is { } redis)
        {
            seconds["redis"] = ProcessSeconds(redis, withChildren: true);
        }

        // This process and its waited-for children: the Node client (bench/node/submit.mjs) runs as a child that has
        // exited and been waited for by the second reading, so its CPU counts as the client's, as the yardsticks' do.
        seconds["client"] = ProcessSeconds(Environment.ProcessId, withChildren: true);
        return seconds;
    }

    /// <summary>Milliseconds of CPU per job for each group between two readings, and the total.</summary>
    public static JsonObject Split(Dictionary<string, double> before, Dictionary<string, double> after, int jobs)
    {
        var split = new JsonObject();
        var total = 0.0;
        foreach (var (group, end) in after)
        {
            var perJob = (end - before.GetValueOrDefault(group)) * 1000 / jobs;
            total += perJob;
            split[group] = Math.Round(perJob, 3);
        }

        split["total"] = Math.Round(total, 3);
        return split;
    }

    private static double ProcessSeconds(int pid, bool withChildren)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name (which may hold spaces) start at the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long Field(int number) => long.Parse(fields[number - 3], CultureInfo.InvariantCulture);
            var ticks = Field(14) + Field(15) + (withChildren ? Field(16) + Field(17) : 0);
            return ticks / TicksPerSecond;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static IEnumerable<int> ChildrenOf(int parent)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue;
            }

            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (int.TryParse(fields[1], CultureInfo.InvariantCulture, out var ppid) && ppid == parent)
            {
                yield return pid;
            }
        }
    }
}
