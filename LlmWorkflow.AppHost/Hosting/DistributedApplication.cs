using System.Diagnostics;
using System.Runtime.InteropServices;
using LlmWorkflow.AppHost.Resources;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// Runs the declared resources: starts PostgreSQL and Redis, builds and starts the projects, waits until they are
/// ready, prints the resource table, reports any child that ends on its own, and on Ctrl+C or SIGTERM stops
/// projects first (SIGTERM, then kill after 10 s) and the servers last.
/// </summary>
public sealed class DistributedApplication
{
    /// <summary>Exit code when PostgreSQL or Redis is not installed.</summary>
    public const int MissingServersExitCode = 2;

    private static readonly TimeSpan ReadinessTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ReadinessPollInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    private readonly DistributedApplicationBuilder _builder;
    private readonly IReadOnlyList<PostgresServerResource> _postgres;
    private readonly IReadOnlyList<RedisServerResource> _redis;
    private readonly IReadOnlyList<ProjectResource> _projects;
    private readonly ResourceConsole _console = ResourceConsole.ForTerminal();
    private readonly List<(ProjectResource Project, ChildProcess Child)> _children = [];

    internal DistributedApplication(
        DistributedApplicationBuilder builder,
        IReadOnlyList<PostgresServerResource> postgres,
        IReadOnlyList<RedisServerResource> redis,
        IReadOnlyList<ProjectResource> projects)
    {
        _builder = builder;
        _postgres = postgres;
        _redis = redis;
        _projects = projects;
    }

    /// <summary>Parses the command line and finds the repository; errors surface when the application runs.</summary>
    public static DistributedApplicationBuilder CreateBuilder(string[] args)
    {
        try
        {
            return new DistributedApplicationBuilder(AppHostOptions.Parse(args), RepositoryRoot.Find());
        }
        catch (Exception ex) when (ex is ArgumentException or DirectoryNotFoundException)
        {
            return new DistributedApplicationBuilder(new AppHostOptions(), Directory.GetCurrentDirectory()) { StartupError = ex.Message };
        }
    }

    /// <summary>Runs until Ctrl+C or SIGTERM and returns the process exit code.</summary>
    public async Task<int> RunAsync()
    {
        if (_builder.StartupError is { } error)
        {
            Console.Error.WriteLine(error);
            Console.Error.WriteLine(AppHostOptions.Usage);
            return 1;
        }

        if (_builder.Options.ShowHelp)
        {
            Console.WriteLine(AppHostOptions.Usage);
            return 0;
        }

        using var shutdown = new CancellationTokenSource();
        void RequestShutdown(PosixSignalContext context)
        {
            context.Cancel = true;
            foreach (var (_, child) in _children.ToArray())
            {
                child.ExpectStop();
            }

            shutdown.Cancel();
        }

        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestShutdown);
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestShutdown);
        try
        {
            return await RunUntilShutdownAsync(shutdown.Token);
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            return 0;
        }
        catch (MissingServerBinariesException ex)
        {
            _console.Info(ex.Message);
            return MissingServersExitCode;
        }
        catch (InvalidOperationException ex)
        {
            _console.Info(ex.Message);
            return 1;
        }
        finally
        {
            await StopAllAsync();
        }
    }

    private async Task<int> RunUntilShutdownAsync(CancellationToken shutdown)
    {
        _console.Info($"repository {_builder.RepositoryRoot}, data in {_builder.DataDirectory}");
        await Task.WhenAll(
            _postgres.Select(p => p.StartAsync(shutdown)).Concat(_redis.Select(r => r.StartAsync(shutdown))));

        foreach (var project in _projects.Where(p => p.Replicas > 0))
        {
            _console.Info($"building {Path.GetFileName(project.ProjectPath)}");
            var assembly = await ProjectBuild.BuildAsync(project.ProjectPath, shutdown);
            foreach (var replica in project.ReplicaNames)
            {
                StartReplica(project, replica, assembly);
            }
        }

        await Task.WhenAll(_children.Select(c => WaitUntilReadyAsync(c.Project, c.Child, shutdown)));
        _console.WriteBlock(ResourceTable.Format(Rows()) + StartupSummary.Format(SummaryEntries()));
        _console.Info("running; press Ctrl+C to stop");
        await Task.Delay(Timeout.Infinite, shutdown);
        return 0;
    }

    private void StartReplica(ProjectResource project, string replica, string assembly)
    {
        var startInfo = new ProcessStartInfo("dotnet") { WorkingDirectory = Path.GetDirectoryName(project.ProjectPath)! };
        startInfo.ArgumentList.Add(assembly);
        foreach (var (name, value) in ChildEnvironment.Build(project, replica, Environment.GetEnvironmentVariable))
        {
            startInfo.Environment[name] = value;
        }

        var child = new ChildProcess(replica, startInfo, _console, project.ReadyLogLine);
        child.ExitedUnexpectedly += _ => _console.WriteBlock(ResourceTable.Format(Rows()));
        _children.Add((project, child));
        child.Start();
    }

    private async Task WaitUntilReadyAsync(ProjectResource project, ChildProcess child, CancellationToken shutdown)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        timeout.CancelAfter(ReadinessTimeout);
        try
        {
            if (project is { HealthCheckPath: { } path, HttpUrl: { } url })
            {
                await PollHealthAsync(child, new Uri(new Uri(url), path), timeout.Token);
            }
            else if (project.ReadyLogLine is not null)
            {
                await Task.WhenAny(child.Ready, child.Exited).WaitAsync(timeout.Token);
            }
            else
            {
                child.MarkReady();
            }
        }
        catch (OperationCanceledException) when (!shutdown.IsCancellationRequested)
        {
            _console.Info($"{child.Name} is not ready after {ReadinessTimeout.TotalSeconds:0} s; leaving it running");
            child.MarkUnhealthy();
        }
    }

    private static async Task PollHealthAsync(ChildProcess child, Uri health, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        while (!child.Exited.IsCompleted)
        {
            try
            {
                using var response = await http.GetAsync(health, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    child.MarkReady();
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // This probe timed out; try again.
            }

            await Task.Delay(ReadinessPollInterval, cancellationToken);
        }
    }

    private IEnumerable<(string Label, string Value)> SummaryEntries() =>
        _projects
            .Where(p => p is { Replicas: > 0, HttpUrl: not null })
            .SelectMany(p => p.Links.Select(link => (link.Label, p.HttpUrl + link.Path)))
            .Concat(_builder.Notes);

    private IEnumerable<ResourceRow> Rows() =>
        _postgres.Select(p => p.Row())
            .Concat(_redis.Select(r => r.Row()))
            .Concat(_children.Select(c => new ResourceRow(
                c.Child.Name,
                c.Child.Exited.IsCompletedSuccessfully && c.Child.State == ResourceState.Exited
                    ? $"Exited, {ExitDescription.Describe(c.Child.Exited.Result)}"
                    : c.Child.State.ToString(),
                c.Child.ProcessId,
                c.Project.HttpUrl ?? "")));

    private async Task StopAllAsync()
    {
        if (_children.Count > 0)
        {
            _console.Info("stopping projects");
            await Task.WhenAll(_children.Select(c => c.Child.DisposeAsync().AsTask()));
        }

        foreach (var redis in _redis)
        {
            await redis.DisposeAsync();
        }

        foreach (var postgres in _postgres)
        {
            await postgres.DisposeAsync();
        }

        _console.Info("stopped");
    }
}
