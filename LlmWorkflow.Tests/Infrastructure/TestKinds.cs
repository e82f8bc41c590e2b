using LlmWorkflow.Tests.Infrastructure;
using Xunit.v3;

// In the root test namespace so every test folder sees the attributes without a using.
namespace LlmWorkflow.Tests;

/// <summary>
/// What a test class needs to run, as the xUnit trait <c>Kind</c>, so each kind is its own run:
/// <c>dotnet test LlmWorkflow.Tests --filter "Kind=Unit"</c> (or Integration, System). Every test class carries exactly
/// one kind (checked by <c>TestKindsTests</c>); a derived class inherits its base's.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = true)]
public abstract class TestKindAttribute(string kind) : Attribute, ITraitAttribute
{
    public const string Trait = "Kind";
    public const string Unit = "Unit";
    public const string Integration = "Integration";
    public const string System = "System";

    public string Kind { get; } = kind;

    public IReadOnlyCollection<KeyValuePair<string, string>> GetTraits() => [new(Trait, Kind)];
}

/// <summary>In-process objects only: no server, no child process, no socket.</summary>
public sealed class UnitTestAttribute() : TestKindAttribute(Unit);

/// <summary>
/// Real PostgreSQL and/or redis-server (<see cref="TestServers"/>, the Redis fixtures), in-process hosts and Kestrel
/// fakes, short child processes.
/// </summary>
public sealed class IntegrationTestAttribute() : TestKindAttribute(Integration);

/// <summary>
/// The whole system from outside: the AppHost (Aspire.Hosting.Testing or <c>dotnet run</c>), the API and worker as
/// processes, the CLI as a process, a browser, containers, the Node and .NET client packages.
/// </summary>
public sealed class SystemTestAttribute() : TestKindAttribute(System);

/// <summary>Keeps a unit test honest: what starts servers or processes calls this first.</summary>
public static class TestKindGuard
{
    /// <summary>Throws when the running test (or the class fixture being built) is marked <see cref="UnitTestAttribute"/>.</summary>
    public static void RefuseInUnitTest(string what)
    {
        var context = TestContext.Current;
        var traits = context.Test?.Traits ?? context.TestClass?.Traits;
        if (traits is not null && traits.TryGetValue(TestKindAttribute.Trait, out var kinds) && kinds.Contains(TestKindAttribute.Unit))
        {
            var name = context.Test?.TestDisplayName ?? context.TestClass?.TestClassName;
            throw new InvalidOperationException(
                $"{name} is marked [UnitTest] but {what}: mark its class [IntegrationTest] (servers, in-process hosts, " +
                "short child processes) or [SystemTest] (the AppHost, API/worker/CLI processes, browser, containers).");
        }
    }
}
