using System.Diagnostics;
using LlmWorkflow.Tests.LocalServers;
using Npgsql;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// A throw-away system for one benchmark: PostgreSQL and Redis from the local binaries, the API and N workers as
/// processes built in Release, all on loopback. Everything is stopped and deleted at the end.
/// </summary>
internal sealed class BenchEnvironment : IAsyncDisposable
{
    public const string ApiKey = "bench-key";
    public const string AdminKey = "bench-admin-key";
    private readonly string _root = Directory.CreateTempSubdirectory("llmwf-bench-").FullName;
    private readonly List<Process> _processes = [];
    private LocalPostgres _postgres = null!;
    private LocalRedis _redis = null!;
    private string? _keptPostgresDirectory;

    public string PostgresConnectionString { get; private set; } = "";

    public bool FsyncOff { get; private set; }

    /// <summary>The API and worker processes started so far, by role (<c>api</c>, <c>worker</c>).</summary>
    public List<(string Role, Process Process)> Services { get; } = [];

    /// <summary>The workers' "Worker started" lines.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> WorkerOutput { get; } = new();

    public int? PostgresProcessId => _postgres.ProcessId;

    public int? RedisProcessId => _redis.ProcessId;

    public Uri ApiUrl { get; private set; } = null!;

    public Dictionary<string, string> Settings { get; } = new();

    /// <summary>
    /// The key submissions send: the configured one, or with <c>LLMWF_BENCH_KEY=database</c> a key created through
    /// <c>POST /api/v1/admin/keys</c> once the API is up (to measure authentication against PostgreSQL).
    /// </summary>
    public static string CallerKey { get; private set; } = ApiKey;

    public static async Task<BenchEnvironment> StartAsync(string workflowsRoot)
    {
        var environment = new BenchEnvironment();
        // PostgreSQL with its defaults (fsync on): what a deployment runs. LLMWF_BENCH_FSYNC_OFF=1 turns fsync and
        // full-page writes off, for diagnostics only (figures taken that way must be labelled as such).
        environment.FsyncOff = Environment.GetEnvironmentVariable("LLMWF_BENCH_FSYNC_OFF") == "1";
        // LLMWF_BENCH_PG_DIR keeps PostgreSQL's data directory across runs (the scale scenario seeds it once); it is
        // created on first use and never deleted by the tool.
        environment._keptPostgresDirectory = Environment.GetEnvironmentVariable("LLMWF_BENCH_PG_DIR") is { Length: > 0 } kept ? Path.GetFullPath(kept) : null;
        environment._postgres = new LocalPostgres(new LocalPostgresOptions
        {
            DataDirectory = environment._keptPostgresDirectory ?? Path.Combine(environment._root, "pg"),
            TradeDurabilityForSpeed = environment.FsyncOff,
        });
        environment._redis = new LocalRedis(new LocalRedisOptions { DataDirectory = Path.Combine(environment._root, "redis") });
        await Task.WhenAll(environment._postgres.StartAsync(), environment._redis.StartAsync());
        await environment._postgres.CreateDatabaseIfMissingAsync("bench", CancellationToken.None);
        // LLMWF_BENCH_PG_OPTIONS appends to the services' connection string, e.g. "Max Auto Prepare=0" to measure without it.
        environment.PostgresConnectionString = environment._postgres.GetConnectionString("bench")
            + (Environment.GetEnvironmentVariable("LLMWF_BENCH_PG_OPTIONS") is { Length: > 0 } options ? ";" + options : "");
        environment.Settings["ConnectionStrings__postgres"] = environment.PostgresConnectionString;
        environment.Settings["ConnectionStrings__redis"] = environment._redis.ConnectionString;
        environment.Settings["Workflows__Root"] = workflowsRoot;
        environment.Settings["LLM_MICROSERVICE_API_KEY"] = ApiKey;
        environment.Settings["ADMIN_API_KEY"] = AdminKey;
        environment.Settings["DOTNET_ENVIRONMENT"] = "Production";
        environment.Settings["ASPNETCORE_ENVIRONMENT"] = "Production";

        // Variants to measure (runtime knobs, connection-string options): LLMWF_BENCH_SERVICE_ENV="K=V;K2=V2" is
        // passed to the API and every worker, e.g. "DOTNET_TieredPGO=0" or "ConnectionStrings__postgres=...";
        // LLMWF_BENCH_WORKER_ENV the same to the workers only.
        foreach (var (key, value) in ParseVariant("LLMWF_BENCH_SERVICE_ENV"))
        {
            environment.Settings[key] = value;
        }

        return environment;
    }

    /// <param name="assembly">The API to start: the product's, or the S1 yardstick's <c>EmptyApi.dll</c> (bench/EmptyApi).</param>
    public async Task StartApiAsync(string assembly = "LlmWorkflow.Api.dll")
    {
        var port = PortAllocator.GetFreePort();
        ApiUrl = new Uri($"http://127.0.0.1:{port}");
        Services.Add(("api", Start(assembly, new() { ["ASPNETCORE_URLS"] = ApiUrl.ToString() })));
        using var http = new HttpClient { BaseAddress = ApiUrl };
        // Minutes, not seconds, on a large seeded database: the API migrates before it answers (an index on millions of rows).
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if ((await http.GetAsync(new Uri("/health", UriKind.Relative))).IsSuccessStatusCode)
                {
                    if (Environment.GetEnvironmentVariable("LLMWF_BENCH_KEY") == "database")
                    {
                        CallerKey = await CreateDatabaseKeyAsync(http);
                    }

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

    private static async Task<string> CreateDatabaseKeyAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/admin/keys", UriKind.Relative))
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { name = "bench-app" }),
        };
        request.Headers.Add("X-API-Key", AdminKey);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var answer = await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>(response.Content);
        return (string)answer!["api_key"]!;
    }

    public Process StartWorker(string id, Dictionary<string, string>? extra = null)
    {
        // LLMWF_BENCH_WORKER_ENV comes last, so a variant can change what a scenario sets (Worker__MaxConcurrentJobs).
        var settings = new Dictionary<string, string> { ["Worker__Id"] = id };
        foreach (var (key, value) in (extra ?? new Dictionary<string, string>()).Concat(ParseVariant("LLMWF_BENCH_WORKER_ENV")))
        {
            settings[key] = value;
        }

        var worker = Start("LlmWorkflow.Worker.dll", settings);
        Services.Add(("worker", worker));
        return worker;
    }

    /// <summary>The <c>K=V;K2=V2</c> pairs of a variant variable (empty when it is not set).</summary>
    private static IEnumerable<KeyValuePair<string, string>> ParseVariant(string variable) =>
        (Environment.GetEnvironmentVariable(variable) ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .Select(parts => KeyValuePair.Create(parts[0], parts.Length == 2 ? parts[1] : ""));

    /// <summary>Whether PostgreSQL's data directory outlives this run (<c>LLMWF_BENCH_PG_DIR</c>).</summary>
    public bool KeepsDatabase => _keptPostgresDirectory is not null;

    /// <summary>Stops one service process (a worker whose phase is over).</summary>
    public async Task StopAsync(Process process)
    {
        await TerminateAsync(process);
        Services.RemoveAll(s => s.Process == process);
    }

    /// <summary>
    /// SIGTERM and Kubernetes' 30 s grace before SIGKILL, as a container stop does, so a service's shutdown completes
    /// (and an EventPipe trace is written out: its rundown of a composite image takes seconds).
    /// </summary>
    private static async Task TerminateAsync(Process process)
    {
        if (process.HasExited)
        {
            return;
        }

        using (var term = Process.Start("kill", $"-TERM {process.Id}")!)
        {
            await term.WaitForExitAsync();
        }

        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    public Task<long> CountAsync(string sql) => ScalarAsync<long>(sql);

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private Process Start(string dll, Dictionary<string, string> extra)
    {
        // Each service runs from its own build output (built in the same configuration as this tool).
        var project = Path.GetFileNameWithoutExtension(dll);
        var configuration = typeof(BenchEnvironment).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyConfigurationAttribute), false)
            .OfType<System.Reflection.AssemblyConfigurationAttribute>().Single().Configuration;
        // LLMWF_BENCH_PUBLISHED=<dir> runs what `dotnet publish` put in <dir>/<project>/ instead (ReadyToRun, as the
        // container images ship), see bench/README.md.
        var path = Environment.GetEnvironmentVariable("LLMWF_BENCH_PUBLISHED") is { Length: > 0 } published
            ? Path.GetFullPath(Path.Combine(published, project, dll))
            : Path.GetFullPath(Path.Combine(project, "bin", configuration, "net10.0", dll));
        // A self-contained publish (the API's Release publish) starts through its apphost, as its image's entrypoint does.
        var appHost = Path.ChangeExtension(path, null);
        var start = File.Exists(appHost) && IsSelfContained(path) ? new ProcessStartInfo(appHost) : new ProcessStartInfo("dotnet", [path]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        // Not the repository root: the services must find their own appsettings.json beside their assembly.
        start.WorkingDirectory = _root;
        foreach (var (key, value) in Settings.Concat(extra))
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start)!;
        // LLMWF_BENCH_LOG_DIR=<dir> keeps each service's console output in <dir>/<project>-<pid>.log, for diagnosis.
        var log = Environment.GetEnvironmentVariable("LLMWF_BENCH_LOG_DIR") is { Length: > 0 } logs
            ? TextWriter.Synchronized(new StreamWriter(Path.Combine(Directory.CreateDirectory(logs).FullName, $"{project}-{process.Id}.log")) { AutoFlush = true })
            : null;
        process.OutputDataReceived += (_, e) =>
        {
            log?.WriteLine(e.Data);
            if (e.Data is not null && e.Data.Contains("Worker started", StringComparison.Ordinal))
            {
                WorkerOutput.Enqueue(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine($"[{dll}] {e.Data}"); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        return process;
    }

    /// <summary>A self-contained app's runtimeconfig.json lists the frameworks it carries.</summary>
    private static bool IsSelfContained(string dll) =>
        Path.ChangeExtension(dll, ".runtimeconfig.json") is var config
        && File.Exists(config)
        && File.ReadAllText(config).Contains("\"includedFrameworks\"", StringComparison.Ordinal);

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await TerminateAsync(process);
            process.Dispose();
        }

        await _redis.DisposeAsync();
        await _postgres.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}
