using LlmWorkflow.AppHost.Hosting;

namespace LlmWorkflow.Tests.Hosting;

public sealed class RepositoryRootTests
{
    [Fact]
    public void FindsTheSolutionAboveANestedDirectory()
    {
        using var repository = new TemporaryDirectory();
        File.WriteAllText(repository.Combine(RepositoryRoot.SolutionFileName), "");
        var nested = Directory.CreateDirectory(repository.Combine(Path.Combine("src", "deep"))).FullName;

        Assert.Equal(repository.Path, RepositoryRoot.Find(nested));
    }

    [Fact]
    public void TriesTheNextStartWhenTheFirstIsOutsideTheRepository()
    {
        using var outside = new TemporaryDirectory();

        var root = RepositoryRoot.Find(outside.Path, AppContext.BaseDirectory);

        Assert.True(File.Exists(Path.Combine(root, RepositoryRoot.SolutionFileName)));
        Assert.True(File.Exists(Path.Combine(root, "LlmWorkflow.AppHost", "LlmWorkflow.AppHost.csproj")));
    }

    [Fact]
    public void ExplainsWhenNoRepositoryIsFound()
    {
        using var outside = new TemporaryDirectory();

        var error = Assert.Throws<DirectoryNotFoundException>(() => RepositoryRoot.Find(outside.Path));
        Assert.Contains(RepositoryRoot.SolutionFileName, error.Message, StringComparison.Ordinal);
    }
}
