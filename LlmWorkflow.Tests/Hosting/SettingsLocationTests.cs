using System.Diagnostics;
using System.Text.RegularExpressions;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Hosting;

/// <summary>
/// The built API and Worker, started from an unrelated working directory, still read the <c>appsettings.json</c>
/// beside their assembly. The proof is behavioural: both files set <c>Microsoft.EntityFrameworkCore</c> to Warning,
/// so the migration each host runs at start-up logs no <c>Executed DbCommand</c> line (without the file the default
/// level, Information, logs every command); the control run raises that level through the environment and sees them.
/// </summary>
[SystemTest]
public sealed partial class SettingsLocationTests(TestServers servers) : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    private TestEnvironment _environment = null!;
    private TemporaryDirectory _unrelated = null!;

    public async ValueTask InitializeAsync()
    {
        _environment = await TestEnvironment.CreateAsync(servers, nameof(SettingsLocationTests), migrated: false);
        _unrelated = new TemporaryDirectory();
    }

    public ValueTask DisposeAsync()
    {
        _unrelated.Dispose();
        return ValueTask.CompletedTask;
    }

    [Theory]
    [InlineData("LlmWorkflow.Api", "Application started")]
    [InlineData("LlmWorkflow.Worker", "Worker started")]
    public async Task HostReadsTheAppSettingsBesideItsAssembly(string project, string readyLine)
    {
        var binary = BuiltOutput(project);
        Assert.True(File.Exists(Path.Combine(binary, "appsettings.json")), $"{binary} has no appsettings.json");

        var output = await RunUntilReadyAsync(binary, project, readyLine, extra: new Dictionary<string, string>());

        Assert.Contains(output, l => l.Contains($"Content root path: {binary}", StringComparison.Ordinal));
        Assert.DoesNotContain(output, l => ExecutedCommand().IsMatch(l));
    }

    [Fact]
    public async Task ControlRunWithEfCoreAtInformationLogsItsCommands()
    {
        // Makes the absence asserted above meaningful: the start-up migration does log commands at Information.
        var output = await RunUntilReadyAsync(BuiltOutput("LlmWorkflow.Worker"), "LlmWorkflow.Worker", "Worker started",
            extra: new Dictionary<string, string> { ["Logging__LogLevel__Microsoft.EntityFrameworkCore"] = "Information" });

        Assert.Contains(output, l => ExecutedCommand().IsMatch(l));
    }

    /// <summary>The project's own build output, next to the test assembly's (same configuration and framework).</summary>
    private static string BuiltOutput(string project)
    {
        var tests = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = tests.Name;
        var configuration = tests.Parent!.Name;
        return Path.Combine(RepositoryPaths.Root, project, "bin", configuration, framework) + Path.DirectorySeparatorChar;
    }

    private async Task<IReadOnlyList<string>> RunUntilReadyAsync(string binary, string project, string readyLine, IReadOnlyDictionary<string, string> extra)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(binary, project + ".dll")])
        {
            WorkingDirectory = _unrelated.Path,
        };

        // Only what the hosts cannot run without; logging levels deliberately come from appsettings.json.
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        start.Environment["ConnectionStrings__postgres"] = _environment.PostgresConnectionString;
        start.Environment["ConnectionStrings__redis"] = _environment.RedisConnectionString;
        start.Environment["Queue__KeyPrefix"] = _environment.KeyPrefix;
        start.Environment["Workflows__Root"] = RepositoryPaths.Workflows;
        start.Environment["Auth__ApiKeys__0__Name"] = "tests";
        start.Environment["Auth__ApiKeys__0__Key"] = TestEnvironment.CallerKey;
        start.Environment["Worker__Id"] = "settings-" + Guid.NewGuid().ToString("N")[..8];
        foreach (var (key, value) in extra)
        {
            start.Environment[key] = value;
        }

        var process = CapturedProcess.Start(start);
        await using (process)
        {
            await process.WaitForLineAsync(l => l.Contains(readyLine, StringComparison.Ordinal), StartTimeout, $"{project} did not start");
        }

        // Read after the kill: what the host logged between its ready line and its end counts too.
        return process.Lines.ToArray();
    }

    [GeneratedRegex(@"Executed DbCommand")]
    private static partial Regex ExecutedCommand();
}
