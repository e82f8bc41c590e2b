using System.Diagnostics;
using System.Reflection;
using Xunit.v3;

namespace LlmWorkflow.Tests.Infrastructure;

[UnitTest]
public sealed class TestKindsTests
{
    [Fact]
    public void EveryTestClassHasExactlyOneKind()
    {
        var wrong = typeof(TestKindsTests).Assembly.GetTypes()
            .Where(type => type is { IsClass: true, IsAbstract: false } && HasTests(type))
            .Select(type => (type, kinds: type.GetCustomAttributes<TestKindAttribute>(inherit: true).Select(kind => kind.Kind).Distinct().ToList()))
            .Where(entry => entry.kinds.Count != 1)
            .Select(entry => $"{entry.type.FullName}: {(entry.kinds.Count == 0 ? "no kind" : string.Join(" and ", entry.kinds))}")
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.True(wrong.Count == 0,
            "Each test class needs exactly one of [UnitTest], [IntegrationTest], [SystemTest] (Infrastructure/TestKinds.cs):\n" +
            string.Join('\n', wrong));
    }

    [Fact]
    public async Task AUnitTestThatAsksForTheSharedServersFailsNamingItselfAndTheKindToUse()
    {
        await using var servers = new TestServers();

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => servers.CreateDatabaseAsync("unit"));

        Assert.Contains(nameof(AUnitTestThatAsksForTheSharedServersFailsNamingItselfAndTheKindToUse), refused.Message, StringComparison.Ordinal);
        Assert.Contains("[IntegrationTest]", refused.Message, StringComparison.Ordinal);
        Assert.False(servers.Started);
    }

    [Fact]
    public void AUnitTestThatStartsAProcessFailsBeforeTheProcessStarts()
    {
        var refused = Assert.Throws<InvalidOperationException>(() => CapturedProcess.Start(new ProcessStartInfo("true")));

        Assert.Contains(nameof(AUnitTestThatStartsAProcessFailsBeforeTheProcessStarts), refused.Message, StringComparison.Ordinal);
        Assert.Contains("true", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisposingServersNoTestAskedForStartsNothing()
    {
        var servers = new TestServers();

        await servers.DisposeAsync();

        Assert.False(servers.Started);
    }

    private static bool HasTests(Type type) =>
        type.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Any(method => method.GetCustomAttributes(inherit: true).OfType<IFactAttribute>().Any());
}
