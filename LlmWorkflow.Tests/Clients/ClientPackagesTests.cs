using System.Globalization;
using LlmWorkflow.Tests.Contract;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Clients;

/// <summary>
/// The two client packages against the real service (API on a real port and a Worker, as the contract suite runs
/// them): the TypeScript package is built by tsc and its sample Next.js route handlers run under Node; the .NET
/// sample console app runs with LlmWorkflow.Client. Each submits a job twice with one idempotency key, follows it
/// live with a resume, reads a typed 404, and verifies the service's real webhook delivery on its own endpoint.
/// </summary>
[SystemTest]
public sealed class ClientPackagesTests(ContractFixture fixture, ITestOutputHelper output) : IClassFixture<ContractFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);

    private Dictionary<string, string> Environment() => new()
    {
        ["LLM_SERVICE_URL"] = fixture.Api.BaseAddress.ToString().TrimEnd('/'),
        ["LLM_SERVICE_API_SECRET"] = TestEnvironment.CallerKey,
        ["LLM_WEBHOOK_SECRET"] = ContractFixture.WebhookSecret,
        ["WEBHOOK_RECEIVER_PORT"] = fixture.ReceiverPort.ToString(CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task TypeScriptPackageBuildsAndItsSampleRouteHandlersSubmitFollowAndVerifyTheWebhook()
    {
        output.WriteLine(await TypeScriptPackage.BuildOnceAsync());
        output.WriteLine(await TypeScriptPackage.RunAsync("tsc", ["-p", Path.Combine("samples", "tsconfig.json")], Environment(), Timeout));
        var text = await TypeScriptPackage.RunAsync("tsx", [Path.Combine("samples", "next-route-handler", "run.ts")], Environment(), Timeout);
        output.WriteLine(text);
        Assert.Contains("typescript sample: job ", text, StringComparison.Ordinal);
        Assert.Contains("webhook workflow.completed verified, forged webhook refused", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DotnetSampleConsoleAppSubmitsFollowsAndVerifiesTheWebhook()
    {
        var text = await ExternalCommand.RunAsync("dotnet", [DotnetSample.Path], Timeout, Environment(), RepositoryPaths.Root);
        output.WriteLine(text);
        Assert.Contains("dotnet sample: job ", text, StringComparison.Ordinal);
        Assert.Contains("webhook workflow.completed verified", text, StringComparison.Ordinal);
    }
}

/// <summary>The npm package in <c>clients/typescript</c> and its node_modules/.bin tools.</summary>
internal static class TypeScriptPackage
{
    public static string Directory { get; } = Path.Combine(RepositoryPaths.Root, "clients", "typescript");

    private static readonly Lazy<Task<string>> Build = new(() => RunAsync("tsc", ["-p", "tsconfig.json"], new Dictionary<string, string>(), TimeSpan.FromMinutes(3)));

    /// <summary>Builds dist/ from the committed sources once per test run (classes running in parallel share it).</summary>
    public static Task<string> BuildOnceAsync() => Build.Value;

    public static async Task<string> RunAsync(string tool, IEnumerable<string> arguments, IDictionary<string, string> environment, TimeSpan timeout)
    {
        var bin = Path.Combine(Directory, "node_modules", ".bin", tool);
        if (!File.Exists(bin))
        {
            Assert.Fail($"The TypeScript client's packages are not installed ({bin} is missing). Run .ci/contract-setup.sh (npm ci in clients/typescript).");
        }

        return await ExternalCommand.RunAsync(bin, arguments, timeout, new Dictionary<string, string>(environment), Directory);
    }
}

/// <summary>The sample console app, built with the tests (a project reference) in their configuration.</summary>
internal static class DotnetSample
{
    public static string Path { get; } = System.IO.Path.Combine(RepositoryPaths.Root, "clients", "dotnet", "samples", "LlmWorkflow.Client.Sample",
        "bin", ExternalCommand.BuildConfiguration, "net10.0", "LlmWorkflow.Client.Sample.dll");
}
