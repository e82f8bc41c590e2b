using System.Globalization;
using System.Text.RegularExpressions;
using LlmWorkflow.AppHost;
using Npgsql;

namespace LlmWorkflow.Tests.LocalServers;

/// <summary>
/// A PostgreSQL server run from the locally installed binaries, listening on 127.0.0.1 only, with trust
/// authentication for <c>postgres</c>. It can be stopped (cleanly or as a crash) and started again on the same port
/// and data, which crash-recovery tests rely on.
/// </summary>
public sealed partial class LocalPostgres : IAsyncDisposable
{
    private const string Superuser = LocalServerPrograms.PostgresAccount;
    private const int StartTimeoutSeconds = 60;
    // Unix socket paths are limited to 107 bytes; ".s.PGSQL.<port>" needs about 15 of them.
    private const int MaxSocketDirectoryLength = 90;

    private readonly LocalPostgresOptions _options;
    private readonly string _binDirectory;
    private readonly string _socketDirectory;

    /// <summary>Prepares a server; nothing runs until <see cref="StartAsync"/>.</summary>
    /// <exception cref="MissingProgramException">PostgreSQL is not installed.</exception>
    public LocalPostgres(LocalPostgresOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _binDirectory = LocalServerPrograms.PostgresBinDirectory();
        DataDirectory = Path.GetFullPath(options.DataDirectory);
        Port = options.Port == 0 ? PortAllocator.GetFreePort() : options.Port;
        _options = options;
        _socketDirectory = DataDirectory.Length <= MaxSocketDirectoryLength
            ? DataDirectory
            : Path.Combine(Path.GetTempPath(), $"llmwf-pg-{Port}");
    }

    /// <summary>The data directory in use.</summary>
    public string DataDirectory { get; }

    /// <summary>The TCP port the server listens on.</summary>
    public int Port { get; }

    /// <summary>Whether the server was started and not stopped since.</summary>
    public bool IsRunning { get; private set; }

    /// <summary>The postmaster's process id while running (first line of <c>postmaster.pid</c>).</summary>
    public int? ProcessId
    {
        get
        {
            try
            {
                return IsRunning && int.TryParse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).FirstOrDefault(), CultureInfo.InvariantCulture, out var pid)
                    ? pid
                    : null;
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>The server's log file (kept in the data directory).</summary>
    public string LogFile => Path.Combine(DataDirectory, "server.log");

    /// <summary>Npgsql connection string for the <c>postgres</c> database.</summary>
    public string ConnectionString => GetConnectionString("postgres");

    /// <summary>Npgsql connection string for the given database on this server.</summary>
    public string GetConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = Superuser,
            Database = database,
        }.ConnectionString;

    /// <summary>Initialises the data directory if needed, starts the server and waits until it accepts connections.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await PrepareDirectoriesAsync(cancellationToken);
        if (!File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
        {
            await InitializeClusterAsync(cancellationToken);
        }

        // A server left behind by a killed AppHost would hold the data directory and port: stop it first.
        var (status, _) = await PgCtlAsync(["status", "-D", DataDirectory], cancellationToken);
        if (status == 0)
        {
            await PgCtlCheckedAsync(["stop", "-D", DataDirectory, "-m", "fast", "-w"], cancellationToken);
        }

        var (exitCode, output) = await PgCtlAsync(
            ["start", "-D", DataDirectory, "-l", LogFile, "-w", "-t", StartTimeoutSeconds.ToString(CultureInfo.InvariantCulture), "-s", "-o", ServerOptions()],
            cancellationToken);
        if (exitCode != 0)
        {
            throw new InvalidOperationException(
                $"PostgreSQL did not start on port {Port} (pg_ctl exited with {exitCode}): {output}\n{ReadLogTail()}");
        }

        IsRunning = true;
    }

    /// <summary>
    /// Stops the server. <paramref name="immediate"/> aborts it without a shutdown checkpoint, as a crash would;
    /// the next start runs crash recovery.
    /// </summary>
    public async Task StopAsync(bool immediate = false, CancellationToken cancellationToken = default)
    {
        if (!IsRunning)
        {
            return;
        }

        await PgCtlCheckedAsync(["stop", "-D", DataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "-s"], cancellationToken);
        IsRunning = false;
    }

    /// <summary>Creates the database unless it exists and returns its connection string.</summary>
    public async Task<string> CreateDatabaseIfMissingAsync(string name, CancellationToken cancellationToken = default)
    {
        if (!DatabaseName().IsMatch(name))
        {
            throw new ArgumentException($"'{name}' is not a plain database name (letters, digits, underscore).", nameof(name));
        }

        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var exists = new NpgsqlCommand("select 1 from pg_database where datname = $1", connection)
        {
            Parameters = { new() { Value = name } },
        };
        if (await exists.ExecuteScalarAsync(cancellationToken) is null)
        {
            // CREATE DATABASE takes no parameters; the name was validated above.
            await using var create = new NpgsqlCommand($"create database \"{name}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        return GetConnectionString(name);
    }

    /// <summary>Stops the server cleanly if it runs.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(immediate: false, CancellationToken.None);

    private string ServerOptions()
    {
        var settings = new List<string>(LocalServerPrograms.PostgresSettings(Port).Select(setting => $"-c {setting}"))
        {
            // pg_ctl hands these to a shell, hence the quotes around the path.
            $"-c 'unix_socket_directories={_socketDirectory}'",
            $"-c max_connections={_options.MaxConnections}",
        };
        if (_options.TradeDurabilityForSpeed)
        {
            // synchronous_commit stays on: with fsync off a commit costs only a write(), and turning it off would let
            // an immediate stop lose acknowledged commits, which the crash-recovery tests must not see.
            settings.AddRange(["-c fsync=off", "-c full_page_writes=off"]);
        }

        return string.Join(' ', settings);
    }

    private async Task InitializeClusterAsync(CancellationToken cancellationToken)
    {
        List<string> arguments = [.. LocalServerPrograms.InitdbArguments(DataDirectory)];
        if (_options.TradeDurabilityForSpeed)
        {
            arguments.Add("--no-sync");
        }

        await CommandRunner.RunCheckedAsync(Path.Combine(_binDirectory, "initdb"), arguments, asPostgresAccount: true, cancellationToken);
    }

    private async Task PrepareDirectoriesAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(DataDirectory);
        Directory.CreateDirectory(_socketDirectory);
        if (!CommandRunner.IsRoot)
        {
            return;
        }

        // As root the server runs as the postgres account: it must own its directories and reach them.
        foreach (var directory in new[] { DataDirectory, _socketDirectory }.Distinct())
        {
            await CommandRunner.RunCheckedAsync(
                "chown", ["-R", $"{Superuser}:{Superuser}", directory],
                asPostgresAccount: false, cancellationToken);
            for (var parent = Path.GetDirectoryName(directory); parent is not null; parent = Path.GetDirectoryName(parent))
            {
                var mode = File.GetUnixFileMode(parent);
                if ((mode & UnixFileMode.OtherExecute) == 0)
                {
                    File.SetUnixFileMode(parent, mode | UnixFileMode.OtherExecute);
                }
            }
        }
    }

    private Task<(int ExitCode, string Output)> PgCtlAsync(IEnumerable<string> arguments, CancellationToken cancellationToken) =>
        CommandRunner.RunAsync(Path.Combine(_binDirectory, "pg_ctl"), arguments, asPostgresAccount: true, cancellationToken);

    private Task<string> PgCtlCheckedAsync(IEnumerable<string> arguments, CancellationToken cancellationToken) =>
        CommandRunner.RunCheckedAsync(Path.Combine(_binDirectory, "pg_ctl"), arguments, asPostgresAccount: true, cancellationToken);

    private string ReadLogTail()
    {
        try
        {
            return string.Join('\n', File.ReadLines(LogFile).TakeLast(20));
        }
        catch (IOException)
        {
            return "(no server log)";
        }
        catch (UnauthorizedAccessException)
        {
            return "(server log unreadable)";
        }
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex DatabaseName();
}
