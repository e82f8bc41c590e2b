namespace LlmWorkflow.Tests.LocalServers;

/// <summary>Finds locally installed PostgreSQL and Redis server programs.</summary>
public static class ServerBinaries
{
    private static readonly string[] PostgresPrograms = ["initdb", "pg_ctl", "postgres"];

    /// <summary>
    /// Returns the directory holding <c>initdb</c>, <c>pg_ctl</c> and <c>postgres</c>: <c>PG_BIN</c> if set, then the
    /// highest <c>/usr/lib/postgresql/*/bin</c> (Debian keeps them off PATH), then PATH.
    /// </summary>
    public static string FindPostgresBinDirectory()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("PG_BIN") is { Length: > 0 } pgBin)
        {
            candidates.Add(pgBin);
        }

        const string debianRoot = "/usr/lib/postgresql";
        if (Directory.Exists(debianRoot))
        {
            candidates.AddRange(Directory.GetDirectories(debianRoot)
                .Select(dir => (dir, version: double.TryParse(Path.GetFileName(dir), System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : -1))
                .OrderByDescending(x => x.version)
                .Select(x => Path.Combine(x.dir, "bin")));
        }

        candidates.AddRange(PathDirectories());

        return candidates.FirstOrDefault(dir => PostgresPrograms.All(program => IsExecutable(Path.Combine(dir, program))))
            ?? throw new MissingServerBinariesException(
                "PostgreSQL server programs (initdb, pg_ctl, postgres)",
                "PG_BIN, /usr/lib/postgresql/*/bin and PATH");
    }

    /// <summary>Returns the path of <c>redis-server</c>: <c>REDIS_SERVER</c> if set, then PATH, then <c>/usr/bin</c>.</summary>
    public static string FindRedisServer()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("REDIS_SERVER") is { Length: > 0 } explicitPath)
        {
            candidates.Add(explicitPath);
        }

        candidates.AddRange(PathDirectories().Select(dir => Path.Combine(dir, "redis-server")));
        candidates.Add("/usr/bin/redis-server");

        return candidates.FirstOrDefault(IsExecutable)
            ?? throw new MissingServerBinariesException("redis-server", "REDIS_SERVER, PATH and /usr/bin");
    }

    private static IEnumerable<string> PathDirectories() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);

    private static bool IsExecutable(string path) =>
        File.Exists(path)
        && (OperatingSystem.IsWindows()
            || (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0);
}
