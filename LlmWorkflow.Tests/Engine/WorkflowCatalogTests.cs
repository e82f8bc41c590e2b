using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Tests.Engine;

[UnitTest]
public sealed class WorkflowCatalogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("catalog-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task TheShippedDefinitionsLoadAndHelloTransformGreets()
    {
        using var catalog = WorkflowCatalog.Load(RepositoryPaths.Definitions, new WorkflowValidator(TransformRegistry.CreateDefault()));
        Assert.True(catalog.TryGet("hello_transform", out var hello));
        Assert.Contains(hello, catalog.All);

        var result = await new WorkflowRunner(TransformRegistry.CreateDefault()).RunAsync(
            hello, new JsonObject { ["name"] = "Ada" }, new WorkflowRunOptions { RunId = "hello" }, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal("""{"greeting":"Hello, Ada!"}""", result.Output!.ToJsonString());
        Assert.Equal(("greet", "Say hello", "\"Hello, Ada!\""), (result.Steps[0].StepId, result.Steps[0].DisplayName, result.Steps[0].Output!.ToJsonString()));
    }

    [Fact]
    public void RefusesToStartWithEveryProblemOfEveryFile()
    {
        File.Copy(Path.Combine(RepositoryPaths.BrokenWorkflows, "unknown_type.json"), Path.Combine(_directory, "a.json"));
        File.Copy(Path.Combine(RepositoryPaths.BrokenWorkflows, "not_json.json"), Path.Combine(_directory, "b.json"));

        var error = Assert.Throws<WorkflowCatalogException>(() => WorkflowCatalog.Load(_directory, new WorkflowValidator()));

        Assert.Equal(["a.json:unknown_step_type", "a.json:missing_config_property", "b.json:invalid_json"], error.Problems.Select(p => $"{p.File}:{p.Code}"));
        Assert.Contains("a.json $.steps[0].type: [unknown_step_type]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsTwoFilesWithTheSameWorkflowName()
    {
        File.Copy(Path.Combine(RepositoryPaths.Definitions, "hello_transform.json"), Path.Combine(_directory, "one.json"));
        File.Copy(Path.Combine(RepositoryPaths.Definitions, "hello_transform.json"), Path.Combine(_directory, "two.json"));

        var error = Assert.Throws<WorkflowCatalogException>(() => WorkflowCatalog.Load(_directory, new WorkflowValidator()));

        Assert.Equal(("two.json", "$.name", ValidationCodes.DuplicateWorkflowName), (error.Problems.Single().File, error.Problems.Single().JsonPath, error.Problems.Single().Code));
    }

    [Fact]
    public async Task ReloadsWhenAFileChangesIfWatching()
    {
        File.Copy(Path.Combine(RepositoryPaths.Definitions, "hello_transform.json"), Path.Combine(_directory, "hello.json"));
        using var catalog = WorkflowCatalog.Load(_directory, new WorkflowValidator(), watchForChanges: true);
        var reloaded = new TaskCompletionSource();
        catalog.Reloaded += current =>
        {
            if (current.TryGet("hello_again", out _))
            {
                reloaded.TrySetResult();
            }
        };

        var text = await File.ReadAllTextAsync(Path.Combine(_directory, "hello.json"), TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(_directory, "again.json"), text.Replace("\"hello_transform\"", "\"hello_again\"", StringComparison.Ordinal), TestContext.Current.CancellationToken);

        await reloaded.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(catalog.TryGet("hello_transform", out _));
    }
}
