using System.Diagnostics;
using System.Globalization;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// A Docker registry (Debian's <c>docker-registry</c>, distribution v2) on 127.0.0.1 with its storage in a temporary
/// folder: the SDK pulls the base image from it and pushes the app images to it, as it would with ACR.
/// </summary>
public sealed class LocalRegistry : IAsyncDisposable
{
    private readonly DirectoryInfo _root;
    private readonly CapturedProcess _process;

    private LocalRegistry(DirectoryInfo root, CapturedProcess process, int port)
    {
        _root = root;
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>, the registry part of image names.</summary>
    public string Address => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public static async Task<LocalRegistry> StartAsync()
    {
        var root = Directory.CreateTempSubdirectory("llmwf-registry-");
        var port = PortAllocator.GetFreePort();
        var config = Path.Combine(root.FullName, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {Path.Combine(root.FullName, "data")}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
            """);
        var process = CapturedProcess.Start(new ProcessStartInfo("docker-registry", ["serve", config]));
        var registry = new LocalRegistry(root, process, port);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(new Uri($"http://{registry.Address}/v2/"));
                if (response.IsSuccessStatusCode)
                {
                    return registry;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            if (process.Process.HasExited || DateTime.UtcNow > deadline)
            {
                var said = process.Tail();
                await registry.DisposeAsync();
                throw new InvalidOperationException($"docker-registry did not start listening on {registry.Address}:\n{said}");
            }

            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _root.Delete(recursive: true);
    }
}
