using LlmWorkflow.AppHost.Hosting;

namespace LlmWorkflow.Tests.Hosting;

/// <summary>
/// The AppHost's build step against the real SDK: a project that compiles yields its assembly, one that does not
/// fails with the compiler's error (the defect was an evaluation that built nothing and "succeeded").
/// </summary>
public sealed class ProjectBuildTests : IDisposable
{
    private readonly TemporaryDirectory _directory = new();

    [Fact]
    public async Task BuildsTheProjectAndReturnsItsAssembly()
    {
        var project = WriteProject("class Program { static void Main() { } }");

        var assembly = await ProjectBuild.BuildAsync(project, TestContext.Current.CancellationToken);

        Assert.True(File.Exists(assembly), assembly);
        Assert.EndsWith("probe.dll", assembly, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACompileErrorFailsWithTheCompilersMessage()
    {
        var project = WriteProject("class Program { static void Main() { int x = ; } }");

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => ProjectBuild.BuildAsync(project, TestContext.Current.CancellationToken));

        Assert.Contains("Building probe.csproj failed", failure.Message, StringComparison.Ordinal);
        Assert.Contains("error CS1525", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"Properties":{"TargetPath":"/x/a.dll"},"TargetResults":{"Build":{"Result":"Success"}}}""", true, "/x/a.dll")]
    [InlineData("""{"Properties":{"TargetPath":"/x/a.dll"},"TargetResults":{"Build":{"Result":"Failure"}}}""", false, "/x/a.dll")]
    [InlineData("""{"Properties":{"TargetPath":""}}""", false, null)]
    public void ReadsMsBuildsAnswer(string output, bool succeeded, string? targetPath) =>
        Assert.Equal((succeeded, targetPath), ProjectBuild.Parse(output));

    [Fact]
    public void PlainTextIsNotAnAnswer() => Assert.Null(ProjectBuild.Parse("/x/a.dll"));

    public void Dispose() => _directory.Dispose();

    private string WriteProject(string program)
    {
        // Outside the repository, so its Directory.Build.props (warnings as errors, analyzers) do not apply.
        File.WriteAllText(Path.Combine(_directory.Path, "probe.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework></PropertyGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(_directory.Path, "Program.cs"), program);
        return Path.Combine(_directory.Path, "probe.csproj");
    }
}
