using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using LlmWorkflow.AppHost;

namespace LlmWorkflow.Tests.LocalServers;

/// <summary>
/// A redis-server child process on 127.0.0.1 with the append-only file on (fsync every second, no RDB snapshots), so
/// a restart on the same directory brings the data back. It can be stopped cleanly or killed, then started again.
/// </summary>
public sealed class LocalRedis : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ReadinessPollInterval = TimeSpan.FromMilliseconds(50);

    private readonly string _serverPath;
    private readonly string? _password;
    private Process? _process;

    /// <summary>Prepares a server; nothing runs until <see cref="StartAsync"/>.</summary>
    /// <exception cref="MissingProgramException">redis-server is not installed.</exception>
    public LocalRedis(LocalRedisOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _serverPath = LocalServerPrograms.RedisServer();
        DataDirectory = Path.GetFullPath(options.DataDirectory);
        Port = options.Port == 0 ? PortAllocator.GetFreePort() : options.Port;
        _password = options.Password;
    }

    /// <summary>The directory holding the append-only file.</summary>
    public string DataDirectory { get; }

    /// <summary>The TCP port the server listens on.</summary>
    public int Port { get; }

    /// <summary>The server's log file (kept in the data directory).</summary>
    public string LogFile => Path.Combine(DataDirectory, "redis.log");

    /// <summary>Written by the server while it runs, so a server left behind by a killed AppHost can be found.</summary>
    public string PidFile => Path.Combine(DataDirectory, "redis.pid");

    /// <summary>The running server's process id, or null when stopped.</summary>
    public int? ProcessId => _process is { HasExited: false } ? _process.Id : null;

    /// <summary>Connection string in the StackExchange.Redis form, e.g. <c>127.0.0.1:6379,password=secret</c>.</summary>
    public string ConnectionString =>
        _password is null ? $"127.0.0.1:{Port}" : $"127.0.0.1:{Port},password={_password}";

    private const string SetSid = "/usr/bin/setsid";

    /// <summary>Starts the server and waits until it answers PING.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (ProcessId is not null)
        {
            throw new InvalidOperationException($"Redis is already running on port {Port}.");
        }

        Directory.CreateDirectory(DataDirectory);
        await StopStaleServerAsync(cancellationToken);
        // In a session of its own (setsid execs in place, so the pid stays Redis's): a Ctrl+C in the terminal signals
        // the whole foreground process group, and Redis must outlive the projects that are still closing their
        // connections; the AppHost stops it last. pg_ctl does the same for PostgreSQL.
        var startInfo = new ProcessStartInfo(File.Exists(SetSid) ? SetSid : _serverPath) { UseShellExecute = false, WorkingDirectory = DataDirectory };
        if (File.Exists(SetSid))
        {
            startInfo.ArgumentList.Add(_serverPath);
        }

        foreach (var argument in ServerArguments())
        {
            startInfo.ArgumentList.Add(argument);
        }

        _process = Process.Start(startInfo) ?? throw new InvalidOperationException("Could not start redis-server.");
        try
        {
            await WaitUntilReadyAsync(cancellationToken);
        }
        catch
        {
            await StopAsync(kill: true, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Stops the server: cleanly with SIGTERM (Redis flushes the append-only file), or with SIGKILL when
    /// <paramref name="kill"/> is set, as a crash would.
    /// </summary>
    public async Task StopAsync(bool kill = false, CancellationToken cancellationToken = default)
    {
        if (_process is null)
        {
            return;
        }

        using var process = _process;
        _process = null;
        if (process.HasExited)
        {
            return;
        }

        if (!kill && await UnixSignals.TerminateAsync(process, StopTimeout, cancellationToken))
        {
            return;
        }

        // Asked to, or it did not stop in time: SIGKILL.
        process.Kill();
        await process.WaitForExitAsync(cancellationToken);
    }

    /// <summary>Stops the server cleanly if it runs.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(kill: false, CancellationToken.None);

    private List<string> ServerArguments()
    {
        List<string> arguments =
        [
            .. LocalServerPrograms.RedisArguments(Port, DataDirectory),
            "--daemonize", "no",
            "--logfile", LogFile,
            "--pidfile", PidFile,
        ];
        if (_password is not null)
        {
            arguments.AddRange(["--requirepass", _password]);
        }

        return arguments;
    }

    /// <summary>Two servers appending to one file would corrupt it: end one still running from an earlier run.</summary>
    private async Task StopStaleServerAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(PidFile)
            || !int.TryParse(await File.ReadAllTextAsync(PidFile, cancellationToken), CultureInfo.InvariantCulture, out var pid))
        {
            return;
        }

        try
        {
            using var stale = Process.GetProcessById(pid);
            if (stale.ProcessName == "redis-server")
            {
                UnixSignals.Send(pid, UnixSignals.Terminate);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(StopTimeout);
                await stale.WaitForExitAsync(timeout.Token);
            }
        }
        catch (ArgumentException)
        {
            // No such process any more: the pid file is just left over.
        }
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StartTimeout);
        List<string[]> probe = _password is null ? [["PING"]] : [["AUTH", _password], ["PING"]];
        while (true)
        {
            if (_process is null or { HasExited: true })
            {
                throw new InvalidOperationException(
                    $"redis-server exited during start-up on port {Port}:\n{ReadLogTail()}");
            }

            try
            {
                if (await RespProbe.SendAsync(Port, probe, timeout.Token) == "+PONG")
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                // Not listening yet.
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"redis-server did not answer PING on port {Port} within {StartTimeout.TotalSeconds} s:\n{ReadLogTail()}");
            }

            // Loading a large append-only file answers -LOADING until done; poll until PONG.
            await Task.Delay(ReadinessPollInterval, timeout.Token);
        }
    }

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
    }
}
