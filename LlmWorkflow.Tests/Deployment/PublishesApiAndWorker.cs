namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// Tests that run <c>dotnet publish</c> on the API or the Worker: a ReadyToRun publish builds into the projects' own
/// linux-x64 output folders, so two of them at once would write the same files.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PublishesApiAndWorker
{
    public const string Name = "Publishes the API and the Worker";
}
