using System.Globalization;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// A container run by podman the way this sandbox allows: runc (crun is refused), the host's network, and explicit
/// ulimits (podman's defaults are refused). Every container carries the test run's label so cleanup removes exactly
/// what the run started.
/// </summary>
public sealed class PodmanContainer : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private PodmanContainer(string name) => Name = name;

    public string Name { get; }

    public static async Task<PodmanContainer> RunAsync(string name, string image, string runLabel, IReadOnlyDictionary<string, string> environment)
    {
        List<string> arguments =
        [
            "run", "--detach", "--name", name, "--label", $"llmwf-test-run={runLabel}",
            "--runtime", "runc", "--network=host",
            "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
            "--pull", "never",
        ];
        foreach (var (key, value) in environment)
        {
            arguments.Add("--env");
            arguments.Add($"{key}={value}");
        }

        arguments.Add(image);
        await ExternalCommand.RunAsync("podman", arguments, CommandTimeout);
        return new PodmanContainer(name);
    }

    public Task<string> LogsAsync() => ExternalCommand.RunAsync("podman", ["logs", Name], CommandTimeout);

    /// <summary>Sends SIGTERM, as Kubernetes or Container Apps do on scale-in or a new revision.</summary>
    public Task TerminateAsync() => ExternalCommand.RunAsync("podman", ["kill", "--signal", "TERM", Name], CommandTimeout);

    /// <summary>
    /// Waits for the container to exit and returns its exit code: <c>podman wait</c> blocks on the exit itself, where
    /// polling <c>podman inspect</c> can meet the process between dying and being reaped ("read /proc/…/cgroup: no such
    /// process", exit 125).
    /// </summary>
    public async Task<int> WaitForExitAsync() =>
        int.Parse((await ExternalCommand.RunAsync("podman", ["wait", Name], CommandTimeout)).Trim(), CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync() =>
        await ExternalCommand.RunAsync("podman", ["rm", "--force", "--time", "0", Name], CommandTimeout, allowFailure: true);
}
