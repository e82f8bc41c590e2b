using LlmWorkflow.AppHost.Hosting;

namespace LlmWorkflow.Tests.Hosting;

public sealed class ResourceTableTests
{
    [Fact]
    public void AlignsColumnsToTheWidestCell()
    {
        var table = ResourceTable.Format(
        [
            new ResourceRow("postgres", "Running", 101, "Host=127.0.0.1;Port=5432"),
            new ResourceRow("worker-2", $"Exited, {ExitDescription.Describe(137)}", 4242, ""),
        ]);

        Assert.Equal(
            """
            NAME      STATE                           PID   ENDPOINT
            postgres  Running                         101   Host=127.0.0.1;Port=5432
            worker-2  Exited, code 137 (signal KILL)  4242  -

            """.ReplaceLineEndings("\n"),
            table);
    }

    [Theory]
    [InlineData(0, "code 0")]
    [InlineData(3, "code 3")]
    [InlineData(143, "code 143 (signal TERM)")]
    [InlineData(137, "code 137 (signal KILL)")]
    public void DescribesExitCodes(int exitCode, string expected) => Assert.Equal(expected, ExitDescription.Describe(exitCode));
}
