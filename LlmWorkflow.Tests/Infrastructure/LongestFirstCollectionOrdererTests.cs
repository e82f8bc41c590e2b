using LlmWorkflow.Tests.Api;
using LlmWorkflow.Tests.Deployment;
using LlmWorkflow.Tests.Docs;
using LlmWorkflow.Tests.Pipeline;
using Xunit.Sdk;
using Xunit.v3;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// The order the suite's collections start in (CI's wall time depends on it): the publishing collection first, then
/// system, integration and unit tests, ties by name, whatever order xUnit hands them over in; the composite publish's
/// collection (it runs alone, after the parallel ones) before all, its publish started only when the run includes it.
/// </summary>
[UnitTest]
public sealed class LongestFirstCollectionOrdererTests
{
    [Fact]
    public void ThePublishingCollectionsComeFirstThenSystemIntegrationAndUnitTests()
    {
        string[] expected =
        [
            WaitsForTheCompositePublish.Name, // runs alone: first of the classes that run after the parallel ones
            PublishesApiAndWorker.Name,
            OwnCollection<StartupLogTests>(), // [SystemTest]
            OwnCollection<MultiRowWriteTests>(), // [IntegrationTest]
            OwnCollection<WorkflowPauseViewTests>() + " (id: 3f2a)", // [IntegrationTest], named with the id some modes add
            "Test collection for a class this assembly does not have",
            OwnCollection<JobPathFilesTests>(), // [UnitTest]
        ];

        foreach (var handedOver in new[] { expected.Reverse(), expected.Order(StringComparer.Ordinal), expected.OrderByDescending(n => n.Length) })
        {
            var starts = 0;
            var ordered = new LongestFirstCollectionOrderer(() => starts++).OrderTestCollections(handedOver.Select(name => new NamedCollection(name)).ToList());

            Assert.Equal(expected, ordered.Select(c => c.TestCollectionDisplayName));
            Assert.Equal(1, starts);
        }
    }

    [Fact]
    public void ARunWithoutTheCompositePublishsTestStartsNoPublish()
    {
        var starts = 0;
        new LongestFirstCollectionOrderer(() => starts++).OrderTestCollections([new NamedCollection(PublishesApiAndWorker.Name), new NamedCollection(OwnCollection<StartupLogTests>())]);

        Assert.Equal(0, starts);
    }

    private static string OwnCollection<T>() => $"Test collection for {typeof(T).FullName}";

    /// <summary>What the orderer reads of a collection: its display name.</summary>
    private sealed class NamedCollection(string name) : ITestCollection
    {
        public ITestAssembly TestAssembly => throw new NotSupportedException("The orderer reads only the display name.");

        public string? TestCollectionClassName => null;

        public string TestCollectionDisplayName => name;

        public IReadOnlyDictionary<string, IReadOnlyCollection<string>> Traits { get; } = new Dictionary<string, IReadOnlyCollection<string>>();

        public string UniqueID => name;
    }
}
