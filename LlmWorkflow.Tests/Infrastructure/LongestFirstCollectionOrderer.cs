using System.Reflection;
using LlmWorkflow.Tests.Deployment;
using LlmWorkflow.Tests.Infrastructure;
using Xunit.Sdk;
using Xunit.v3;

[assembly: TestCollectionOrderer(typeof(LongestFirstCollectionOrderer))]

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// Starts the longest collections first, so that the run ends when the work does rather than when a long collection
/// that happened to start last does: xUnit's default order is random, and the publishing collection (two publishes,
/// then containers: several minutes) once started four minutes in and then ran alone at the end. The order is the
/// kinds' (system tests take seconds to minutes each, integration tests about a second, unit tests milliseconds), the
/// publishing collection first; ties by name, so a run is repeatable. Collections that do not run in parallel
/// (<see cref="TimeBoundTests"/>) run after the parallel ones whatever their place here. The composite Worker publish
/// is the exception: minutes of low-priority compiling that would hold a test slot while it waits, so when the run
/// includes <see cref="PublishedWorkerTests"/> the publish starts here, as the run begins, and that class goes last.
/// </summary>
public sealed class LongestFirstCollectionOrderer : ITestCollectionOrderer
{
    private static readonly Lazy<Dictionary<string, int>> RankByCollection = new(RankCollections);

    /// <summary>The collection of the test that waits for the composite publish, as xUnit names a class's own collection.</summary>
    public static readonly string CompositePublishCollection = $"Test collection for {typeof(PublishedWorkerTests).FullName}";

    private readonly Action _startCompositePublish;

    public LongestFirstCollectionOrderer()
        : this(CompositeWorkerPublish.Start)
    {
    }

    /// <summary>For the orderer's own tests: what to do instead of starting the publish.</summary>
    internal LongestFirstCollectionOrderer(Action startCompositePublish) => _startCompositePublish = startCompositePublish;

    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : ITestCollection
    {
        if (testCollections.Any(c => ClassCollectionName(c.TestCollectionDisplayName) == CompositePublishCollection))
        {
            _startCompositePublish();
        }

        return [.. testCollections.OrderBy(c => Rank(c)).ThenBy(c => c.TestCollectionDisplayName, StringComparer.Ordinal)];
    }

    private static int Rank(ITestCollection collection) =>
        RankByCollection.Value.TryGetValue(ClassCollectionName(collection.TestCollectionDisplayName), out var rank) ? rank : KindRank(null);

    /// <summary>A class's own collection as xUnit shows it, "Test collection for &lt;full name&gt;" (with " (id: …)" in some modes), without the id.</summary>
    private static string ClassCollectionName(string displayName) =>
        displayName.IndexOf(" (id: ", StringComparison.Ordinal) is > 0 and var id ? displayName[..id] : displayName;

    /// <summary>Each collection's rank: its slowest class's kind (an explicit collection may hold several classes).</summary>
    private static Dictionary<string, int> RankCollections()
    {
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal) { [PublishesApiAndWorker.Name] = 0, [CompositePublishCollection] = LastRank };
        foreach (var type in typeof(LongestFirstCollectionOrderer).Assembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false }))
        {
            var kind = type.GetCustomAttribute<TestKindAttribute>(inherit: true);
            if (kind is null)
            {
                continue;
            }

            // xUnit names a class's own collection "Test collection for <full name>".
            var name = type.GetCustomAttribute<CollectionAttribute>()?.Name ?? $"Test collection for {type.FullName}";
            if (name == CompositePublishCollection)
            {
                continue;
            }

            var rank = KindRank(kind.Kind);
            ranks[name] = ranks.TryGetValue(name, out var known) ? Math.Min(known, rank) : rank;
        }

        return ranks;
    }

    private const int LastRank = 5;

    private static int KindRank(string? kind) => kind switch
    {
        TestKindAttribute.System => 1,
        TestKindAttribute.Integration => 2,
        TestKindAttribute.Unit => 4,
        _ => 3,
    };
}
