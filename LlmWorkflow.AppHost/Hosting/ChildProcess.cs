using System.Diagnostics;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// One child process of the AppHost: its output is echoed line by line with the resource's prefix, its state is
/// tracked for the resource table, and an exit nobody asked for is reported, never silently restarted.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly ProcessStartInfo _startInfo;
    private readonly ResourceConsole _console;
    private readonly string? _readyLogLine;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _process;
    private volatile bool _stopRequested;

    /// <summary>Prepares the child; <paramref name="readyLogLine"/>, when given, marks it ready once printed.</summary>
    public ChildProcess(string name, ProcessStartInfo startInfo, ResourceConsole console, string? readyLogLine = null)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        Name = name;
        _startInfo = startInfo;
        _console = console;
        _readyLogLine = readyLogLine;
        startInfo.UseShellExecute = false;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.RedirectStandardInput = true;
    }

    /// <summary>Raised after the child ended without being asked to (the report line is already printed).</summary>
    public event Action<ChildProcess>? ExitedUnexpectedly;

    /// <summary>The resource name, e.g. <c>worker-2</c>.</summary>
    public string Name { get; }

    /// <summary>Where the child is in its life.</summary>
    public ResourceState State { get; private set; } = ResourceState.NotStarted;

    /// <summary>The process id once started.</summary>
    public int? ProcessId { get; private set; }

    /// <summary>Completes when the child is ready (its ready line was printed, or <see cref="MarkReady"/> was called).</summary>
    public Task Ready => _ready.Task;

    /// <summary>Completes with the exit code when the child has ended and its output is drained.</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Starts the process and begins echoing its output.</summary>
    public void Start()
    {
        if (_process is not null)
        {
            throw new InvalidOperationException($"{Name} was already started.");
        }

        var process = new Process { StartInfo = _startInfo, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        State = ResourceState.Starting;
        process.Start();
        _process = process;
        ProcessId = process.Id;
        // Children must not read the AppHost's terminal.
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _ = WatchExitAsync(process);
    }

    /// <summary>Marks the child ready (for readiness decided outside, such as an HTTP health probe).</summary>
    public void MarkReady()
    {
        if (State == ResourceState.Starting || State == ResourceState.Unhealthy)
        {
            State = ResourceState.Running;
        }

        _ready.TrySetResult();
    }

    /// <summary>Records that the readiness check gave up while the process still runs.</summary>
    public void MarkUnhealthy()
    {
        if (State == ResourceState.Starting)
        {
            State = ResourceState.Unhealthy;
        }
    }

    /// <summary>
    /// Announces that an exit is coming and is expected: Ctrl+C in a terminal signals the children too, and they may
    /// end before <see cref="StopAsync"/> gets to them.
    /// </summary>
    public void ExpectStop() => _stopRequested = true;

    /// <summary>Asks the child to stop with SIGTERM and kills it if it has not ended after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _stopRequested = true;
        if (_process is not { } process || _exited.Task.IsCompleted)
        {
            return;
        }

        State = ResourceState.Stopping;
        UnixSignals.Send(process.Id, UnixSignals.Terminate);
        if (await Task.WhenAny(_exited.Task, Task.Delay(grace)) != _exited.Task)
        {
            _console.Info($"{Name} did not stop within {grace.TotalSeconds:0.#} s; killing it");
            process.Kill(entireProcessTree: true);
        }

        await _exited.Task;
    }

    /// <summary>Stops the child (10 s grace) and releases the process handle.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10));
        _process?.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _console.WriteLine(Name, line);
        if (_readyLogLine is not null && line.Contains(_readyLogLine, StringComparison.Ordinal))
        {
            MarkReady();
        }
    }

    private async Task WatchExitAsync(Process process)
    {
        // Waits for the output to be drained too, so the exit line comes after the child's last words.
        await process.WaitForExitAsync();
        var exitCode = process.ExitCode;
        if (_stopRequested)
        {
            State = ResourceState.Stopped;
            _exited.TrySetResult(exitCode);
            return;
        }

        State = ResourceState.Exited;
        _console.Info(ExitDescription.Unexpected(Name, exitCode));
        _exited.TrySetResult(exitCode);
        ExitedUnexpectedly?.Invoke(this);
    }
}
