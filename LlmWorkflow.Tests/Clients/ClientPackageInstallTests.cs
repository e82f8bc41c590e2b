using System.Globalization;
using System.IO.Compression;
using LlmWorkflow.Tests.Contract;
using LlmWorkflow.Tests.Deployment;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Clients;

/// <summary>
/// Both client packages as a newcomer installs them (clients/install-check): packed with the one command each README
/// gives, installed from the packed file into a new app in a temporary folder outside the repository, compiled, and
/// run against the real service (signals, reschedule, schedules, a typed 404, a document 004 project). Offline: npm
/// installs from its cache, NuGet from the packed folder and the machine's global packages folder. In the collection
/// of the tests that publish the API and the Worker, since the pack builds LlmWorkflow.Contracts in Release too.
/// </summary>
[SystemTest]
[Collection(PublishesApiAndWorker.Name)]
public sealed class ClientPackageInstallTests(ContractFixture fixture, ITestOutputHelper output) : IClassFixture<ContractFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);
    private static readonly string InstallCheck = Path.Combine(RepositoryPaths.Root, "clients", "install-check");

    private Dictionary<string, string> ServiceEnvironment() => new()
    {
        ["LLM_SERVICE_URL"] = fixture.Api.BaseAddress.ToString().TrimEnd('/'),
        ["LLM_SERVICE_API_SECRET"] = TestEnvironment.CallerKey,
    };

    [Fact]
    public async Task NpmPackOfAFreshCopyInstallsIntoANewAppThatCompilesStrictAndCallsTheService()
    {
        var work = Directory.CreateTempSubdirectory("llmwf-npm-install-");
        try
        {
            // The package as a fresh clone has it: sources and lockfile, no node_modules, no dist (prepack builds it).
            var package = CopyFreshPackage(work.FullName);
            await RunAsync("npm", ["pack", "--pack-destination", work.FullName], package);
            var tarball = Assert.Single(work.GetFiles("llmworkflow-client-*.tgz"));

            var app = Directory.CreateDirectory(Path.Combine(work.FullName, "app")).FullName;
            await File.WriteAllTextAsync(Path.Combine(app, "package.json"), """{ "name": "throwaway-app", "private": true, "type": "module" }""", TestContext.Current.CancellationToken);
            foreach (var file in Directory.GetFiles(Path.Combine(InstallCheck, "npm-app")))
            {
                File.Copy(file, Path.Combine(app, Path.GetFileName(file)));
            }

            await RunAsync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball.FullName, "typescript@5.9.3", "@types/node@20.19.43"], app);
            await RunAsync(Path.Combine(app, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], app);
            var text = await RunAsync("node", [Path.Combine("dist", "index.js")], app, ServiceEnvironment());

            Assert.Contains("npm app: job ", text, StringComparison.Ordinal);
            Assert.Contains("npm app: signal payment.received", text, StringComparison.Ordinal);
            Assert.Contains("npm app: rescheduled job completed", text, StringComparison.Ordinal);
            Assert.Contains("npm app: schedule created, listed, triggered, paused", text, StringComparison.Ordinal);
            Assert.Contains("npm app: typed 404, project complete", text, StringComparison.Ordinal);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task DotnetPackInstallsIntoANewConsoleAppWithoutAspNetCoreAndANewWebAppForWebhooks()
    {
        var work = Directory.CreateTempSubdirectory("llmwf-nuget-install-");
        try
        {
            var feed = Path.Combine(work.FullName, "packages");
            await RunAsync("dotnet", ["pack", Path.Combine(RepositoryPaths.Root, "clients", "dotnet"), "-o", feed], RepositoryPaths.Root);
            AssertPackagesCarryTheirFiles(feed);

            var console = await NewAppAsync(work.FullName, "console", "ThrowawayApp", feed, "LlmWorkflow.Client", Path.Combine(InstallCheck, "dotnet-app", "Program.cs"));
            var runtimeConfig = await File.ReadAllTextAsync(Path.Combine(console, "bin", "Debug", "net10.0", "ThrowawayApp.runtimeconfig.json"), TestContext.Current.CancellationToken);
            Assert.DoesNotContain("Microsoft.AspNetCore.App", runtimeConfig, StringComparison.Ordinal);
            var text = await RunAsync("dotnet", ["run", "--no-build"], console, ServiceEnvironment());
            Assert.Contains("dotnet app: job ", text, StringComparison.Ordinal);
            Assert.Contains("dotnet app: signal payment.received", text, StringComparison.Ordinal);
            Assert.Contains("dotnet app: rescheduled job completed", text, StringComparison.Ordinal);
            Assert.Contains("dotnet app: schedule created, listed, triggered, paused", text, StringComparison.Ordinal);
            Assert.Contains("dotnet app: typed 404, project complete", text, StringComparison.Ordinal);

            // The README's webhook endpoint compiles as written in an ASP.NET Core app with the webhooks package.
            await NewAppAsync(work.FullName, "web", "WebhookApp", feed, "LlmWorkflow.Client.Webhooks", Path.Combine(InstallCheck, "webhook-app", "Program.cs"));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// A new app from a dotnet template with the packed package added from a local source, built. Its nuget.config
    /// takes LlmWorkflow.* only from the packed folder and everything else from the machine's global packages folder
    /// (a folder source: offline), into a packages folder of its own, so no earlier copy of 0.1.0 can stand in.
    /// </summary>
    private async Task<string> NewAppAsync(string work, string template, string name, string feed, string package, string program)
    {
        var app = Directory.CreateDirectory(Path.Combine(work, name)).FullName;
        await RunAsync("dotnet", ["new", template, "-n", name, "-o", app], app);
        var machinePackages = System.Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="packages" /></config>
              <packageSources>
                <clear />
                <add key="llmworkflow-local" value="{feed}" />
                <add key="machine-cache" value="{machinePackages}" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="llmworkflow-local"><package pattern="LlmWorkflow.*" /></packageSource>
                <packageSource key="machine-cache"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        File.Copy(program, Path.Combine(app, "Program.cs"), overwrite: true);
        await RunAsync("dotnet", ["add", "package", package, "--version", "0.1.0"], app);
        await RunAsync("dotnet", ["build", "-c", "Debug"], app);
        return app;
    }

    private static void AssertPackagesCarryTheirFiles(string feed)
    {
        using (var client = ZipFile.OpenRead(Path.Combine(feed, "LlmWorkflow.Client.0.1.0.nupkg")))
        {
            var entries = client.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains("lib/net10.0/LlmWorkflow.Client.dll", entries);
            Assert.Contains("lib/net10.0/LlmWorkflow.Contracts.dll", entries);
            Assert.Contains("README.md", entries);
            using var nuspec = new StreamReader(client.GetEntry("LlmWorkflow.Client.nuspec")!.Open());
            Assert.DoesNotContain("frameworkReference", nuspec.ReadToEnd(), StringComparison.Ordinal);
        }

        using var webhooks = ZipFile.OpenRead(Path.Combine(feed, "LlmWorkflow.Client.Webhooks.0.1.0.nupkg"));
        Assert.Contains("lib/net10.0/LlmWorkflow.Client.Webhooks.dll", webhooks.Entries.Select(e => e.FullName));
    }

    private static string CopyFreshPackage(string work)
    {
        var source = TypeScriptPackage.Directory;
        var copy = Path.Combine(work, "typescript");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            var top = relative.Split(Path.DirectorySeparatorChar)[0];
            if (top is "node_modules" or "dist" or ".installed-package-lock.json")
            {
                continue;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(copy, relative))!);
            File.Copy(file, Path.Combine(copy, relative));
        }

        return copy;
    }

    private async Task<string> RunAsync(string tool, string[] arguments, string directory, Dictionary<string, string>? environment = null)
    {
        var started = DateTimeOffset.UtcNow;
        // The builds at low priority (ExternalCommand.RunBuildAsync); the apps they build run at the test's.
        var text = tool == "dotnet" && arguments is ["pack" or "build" or "add", ..]
            ? await ExternalCommand.RunBuildAsync(arguments, Timeout, environment, directory)
            : await ExternalCommand.RunAsync(tool, arguments, Timeout, environment, directory);
        output.WriteLine($"$ {tool} {string.Join(' ', arguments)} ({(DateTimeOffset.UtcNow - started).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s)\n{text}");
        return text;
    }
}
