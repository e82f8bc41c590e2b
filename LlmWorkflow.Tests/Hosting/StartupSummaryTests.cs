using LlmWorkflow.AppHost.Hosting;

namespace LlmWorkflow.Tests.Hosting;

public sealed class StartupSummaryTests
{
    [Fact]
    public void AlignsLabelsUnderTheTable()
    {
        var text = StartupSummary.Format([("Dashboard", "http://127.0.0.1:5080/dashboard/"), ("Admin key", "X-API-Key: dev-admin-key")]);

        Assert.Equal("\nDashboard  http://127.0.0.1:5080/dashboard/\nAdmin key  X-API-Key: dev-admin-key\n\n", text);
    }

    [Fact]
    public void NothingToSayPrintsNothing() => Assert.Equal("", StartupSummary.Format([]));
}
