using System.Diagnostics;
using LlmWorkflow.AppHost.Resources;
using Npgsql;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// A throw-away system for one benchmark: PostgreSQL and Redis from the local binaries, the API and N workers as
/// processes built in Release, all on loopback. Everything is stopped and deleted at the end.
/// </summary>
internal sealed class BenchEnvironment : IAsyncDisposable
{
    public const string ApiKey = "bench-key";
    private readonly string _root = Directory.CreateTempSubdirectory("llmwf-bench-").FullName;
    private readonly List<Process> _processes = [];
    private LocalPostgres _postgres = null!;
    private LocalRedis _redis = null!;

    public string PostgresConnectionString { get; private set; } = "";

    public Uri ApiUrl { get; private set; } = null!;

    public Dictionary<string, string> Settings { get; } = new();

    public static async Task<BenchEnvironment> StartAsync(string workflowsRoot)
    {
        var environment = new BenchEnvironment();
        // Benchmarks measure the service, not disk flushes of a throw-away cluster (documented in bench/README.md).
        environment._postgres = new LocalPostgres(new LocalPostgresOptions { DataDirectory = Path.Combine(environment._root, "pg"), TradeDurabilityForSpeed = true });
        environment._redis = new LocalRedis(new LocalRedisOptions { DataDirectory = Path.Combine(environment._root, "redis") });
        await Task.WhenAll(environment._postgres.StartAsync(), environment._redis.StartAsync());
        await environment._postgres.CreateDatabaseIfMissingAsync("bench", CancellationToken.None);
        environment.PostgresConnectionString = environment._postgres.GetConnectionString("bench") + ";Maximum Pool Size=100";
        environment.Settings["ConnectionStrings__postgres"] = environment.PostgresConnectionString;
        environment.Settings["ConnectionStrings__redis"] = environment._redis.ConnectionString;
        environment.Settings["Workflows__Root"] = workflowsRoot;
        environment.Settings["LLM_MICROSERVICE_API_KEY"] = ApiKey;
        environment.Settings["Logging__LogLevel__Default"] = "Warning";
        environment.Settings["DOTNET_ENVIRONMENT"] = "Production";
        environment.Settings["ASPNETCORE_ENVIRONMENT"] = "Production";
        return environment;
    }

    public async Task StartApiAsync()
    {
        var port = PortAllocator.GetFreePort();
        ApiUrl = new Uri($"http://127.0.0.1:{port}");
        Start("LlmWorkflow.Api.dll", new() { ["ASPNETCORE_URLS"] = ApiUrl.ToString() });
        using var http = new HttpClient { BaseAddress = ApiUrl };
        for (var i = 0; i < 600; i++)
        {
            try
            {
                if ((await http.GetAsync(new Uri("/health", UriKind.Relative))).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException("The API did not become healthy.");
    }

    public Process StartWorker(string id, Dictionary<string, string>? extra = null)
    {
        var settings = new Dictionary<string, string> { ["Worker__Id"] = id };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        return Start("LlmWorkflow.Worker.dll", settings);
    }

    public async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private Process Start(string dll, Dictionary<string, string> extra)
    {
        // Each service runs from its own build output (built in the same configuration as this tool).
        var project = Path.GetFileNameWithoutExtension(dll);
        var configuration = typeof(BenchEnvironment).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyConfigurationAttribute), false)
            .OfType<System.Reflection.AssemblyConfigurationAttribute>().Single().Configuration;
        var path = Path.GetFullPath(Path.Combine(project, "bin", configuration, "net10.0", dll));
        var start = new ProcessStartInfo("dotnet", [path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in Settings.Concat(extra))
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine($"[{dll}] {e.Data}"); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        await _redis.DisposeAsync();
        await _postgres.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}
