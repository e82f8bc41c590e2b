using System.Globalization;

namespace LlmWorkflow.AppHost;

/// <summary>
/// A start that finds servers of an earlier run still going (a second start typed right after Ctrl+C, or after the
/// AppHost was killed) says so in one line and waits for them, or tells what to do; a stale postgres lock file (its
/// process gone) is removed, saying so. Before this, postgres failed on its <c>postmaster.pid</c> and the api and
/// workers waited for it forever, printing nothing.
/// </summary>
public static class EarlierRun
{
    /// <summary>How long a start waits for an earlier run's servers to finish stopping.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Checks the local servers' data directories; false (after saying what to do) when the start cannot go on.</summary>
    public static bool SettleLocalServers(string dataDirectory)
    {
        return SettlePostgres(Path.Combine(dataDirectory, "postgres")) && SettleRedis(Path.Combine(dataDirectory, "redis"));
    }

    private static bool SettlePostgres(string cluster)
    {
        var lockFile = Path.Combine(cluster, "postmaster.pid");
        if (!File.Exists(lockFile))
        {
            return true;
        }

        var firstLine = File.ReadLines(lockFile).FirstOrDefault()?.Trim();
        if (!int.TryParse(firstLine, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || ChildProcesses.Find(pid) is not { } process
            || !process.Name.StartsWith("postgres", StringComparison.Ordinal))
        {
            Console.WriteLine($"[apphost] removing the stale PostgreSQL lock {lockFile} (no PostgreSQL runs as pid {firstLine})");
            File.Delete(lockFile);
            return true;
        }

        return WaitFor(process, $"PostgreSQL of an earlier run (pid {pid}) still holds {cluster}");
    }

    private static bool SettleRedis(string directory)
    {
        foreach (var process in ChildProcesses.WorkingIn(directory).Where(p => p.Name.StartsWith("redis-server", StringComparison.Ordinal)))
        {
            if (!WaitFor(process, $"redis-server of an earlier run (pid {process.Pid}) still uses {directory}"))
            {
                return false;
            }
        }

        return true;
    }

    private static bool WaitFor(ChildProcesses.ProcessEntry process, string what)
    {
        Console.WriteLine($"[apphost] {what}: waiting up to {Patience.TotalSeconds:0} s for it to stop");
        if (ChildProcesses.WaitForExit(process, Patience))
        {
            return true;
        }

        Console.Error.WriteLine($"[apphost] {what} after {Patience.TotalSeconds:0} s: stop it (kill {process.Pid.ToString(CultureInfo.InvariantCulture)}) and start again");
        return false;
    }
}
