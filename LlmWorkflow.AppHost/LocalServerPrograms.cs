using System.Globalization;

namespace LlmWorkflow.AppHost;

/// <summary>
/// Where the machine's postgres and redis-server programs are and how they are started: the one definition the
/// AppHost's local resources (<see cref="LocalServers"/>, run by Aspire's orchestrator) and the tests' servers (run
/// by the tests themselves, which stop, kill and restart them) both use.
/// </summary>
public static class LocalServerPrograms
{
    /// <summary>The account PostgreSQL runs under when started by root (created by Debian's postgresql package).</summary>
    public const string PostgresAccount = "postgres";

    /// <summary>The command that installs every server program the local run and the tests need.</summary>
    public const string InstallHint = "sudo apt-get install -y postgresql redis-server";

    /// <summary>
    /// The directory holding <c>initdb</c>, <c>pg_ctl</c> and <c>postgres</c>: <c>PG_BIN</c> if set, then the
    /// newest <c>/usr/lib/postgresql/*/bin</c> (Debian keeps them off PATH), then PATH.
    /// </summary>
    public static string PostgresBinDirectory()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("PG_BIN") is { Length: > 0 } explicitDirectory)
        {
            candidates.Add(explicitDirectory);
        }

        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(dir => double.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var major) ? major : -1)
                .Select(dir => Path.Combine(dir, "bin")));
        }

        candidates.AddRange(PathDirectories());
        string[] programs = ["initdb", "pg_ctl", "postgres"];
        return candidates.FirstOrDefault(dir => programs.All(program => File.Exists(Path.Combine(dir, program))))
            ?? throw Missing("the PostgreSQL server programs (initdb, pg_ctl, postgres)", "PG_BIN, /usr/lib/postgresql/*/bin or PATH");
    }

    /// <summary>The path of <c>redis-server</c>: <c>REDIS_SERVER</c> if set (it must exist), then PATH.</summary>
    public static string RedisServer()
    {
        // A variable naming a missing file is a mistake to report, not a reason to look elsewhere.
        if (Environment.GetEnvironmentVariable("REDIS_SERVER") is { Length: > 0 } explicitPath)
        {
            return File.Exists(explicitPath) ? explicitPath : throw new MissingProgramException($"REDIS_SERVER names {explicitPath}, which does not exist.");
        }

        return PathDirectories().Select(dir => Path.Combine(dir, "redis-server")).FirstOrDefault(File.Exists)
            ?? throw Missing("redis-server", "REDIS_SERVER or PATH");
    }

    /// <summary>initdb's arguments: trust authentication for <c>postgres</c> (the server listens on loopback only), UTF-8, the C locale.</summary>
    public static IReadOnlyList<string> InitdbArguments(string dataDirectory) =>
        ["-D", dataDirectory, "-U", PostgresAccount, "-E", "UTF8", "--locale=C", "--auth=trust"];

    /// <summary>The server settings every local postgres runs with: its port, loopback only.</summary>
    public static IReadOnlyList<string> PostgresSettings(int port) =>
        [$"port={port.ToString(CultureInfo.InvariantCulture)}", "listen_addresses=127.0.0.1"];

    /// <summary>
    /// redis-server's arguments: its port, loopback only, the append-only file fsynced every second and no RDB
    /// snapshots, so a restart on the same directory brings the data back. <paramref name="noSnapshots"/> is the
    /// value of <c>--save</c> as the launcher passes it (an empty argument, or <c>""</c> for Aspire's orchestrator,
    /// whose arguments redis-server reads as config lines).
    /// </summary>
    public static IReadOnlyList<string> RedisArguments(int port, string dataDirectory, string noSnapshots = "") =>
        ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dataDirectory,
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", noSnapshots];

    private static IEnumerable<string> PathDirectories() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);

    private static MissingProgramException Missing(string what, string where) =>
        new($"Found no {what} in {where}: install them (Debian/Ubuntu: {InstallHint}) " +
            "or run postgres and redis as containers (AppHost:Infrastructure=containers).");
}

/// <summary>A server program the local run needs is not installed: reported in one line (see Program.cs), not as a crash.</summary>
public sealed class MissingProgramException(string message) : Exception(message);
