using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Clients;

/// <summary>
/// The TypeScript package's own unit tests (clients/typescript/test, node's test runner, a fake fetch): idempotency
/// keys, typed errors, backoff to a failed job's category, event resume over a dropped stream, webhook rotation.
/// </summary>
[SystemTest]
public sealed class TypeScriptPackageUnitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task TheHelpersPassTheirNodeTests()
    {
        await TypeScriptPackage.BuildOnceAsync();
        var text = await ExternalCommand.RunAsync("node", ["--test", "test/"], TimeSpan.FromMinutes(2), workingDirectory: TypeScriptPackage.Directory);
        output.WriteLine(text);
        Assert.Contains("# fail 0", text, StringComparison.Ordinal);
        Assert.DoesNotContain("# pass 0", text, StringComparison.Ordinal);
    }
}
