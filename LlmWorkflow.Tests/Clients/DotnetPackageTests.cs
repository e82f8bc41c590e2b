using System.IO.Compression;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Clients;

/// <summary><c>dotnet pack</c> makes one LlmWorkflow.Client package that carries the Contracts records it exposes.</summary>
[SystemTest]
public sealed class DotnetPackageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task PackMakesOnePackageWithTheClientAndItsContractsAssembly()
    {
        var outDirectory = Directory.CreateTempSubdirectory("llmworkflow-pack-");
        try
        {
            var project = Path.Combine(RepositoryPaths.Root, "clients", "dotnet", "LlmWorkflow.Client", "LlmWorkflow.Client.csproj");
            output.WriteLine(await ExternalCommand.RunAsync("dotnet",
                ["pack", project, "--no-build", "-c", ExternalCommand.BuildConfiguration, "-o", outDirectory.FullName, "-v", "q"],
                TimeSpan.FromMinutes(3), workingDirectory: RepositoryPaths.Root));
            var package = Assert.Single(outDirectory.GetFiles("LlmWorkflow.Client.*.nupkg"));
            using var archive = ZipFile.OpenRead(package.FullName);
            var entries = archive.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains("lib/net10.0/LlmWorkflow.Client.dll", entries);
            Assert.Contains("lib/net10.0/LlmWorkflow.Contracts.dll", entries);
            Assert.Contains("README.md", entries);
        }
        finally
        {
            outDirectory.Delete(recursive: true);
        }
    }
}
