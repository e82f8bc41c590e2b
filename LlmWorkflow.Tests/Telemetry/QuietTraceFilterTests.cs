using System.Diagnostics;
using LlmWorkflow.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Http;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace LlmWorkflow.Tests.Telemetry;

/// <summary>
/// The trace list's noise (issue 80): the dashboard's reads start no trace, a worker's no-op stream entry exports no
/// job.run, and a job that runs exports its job.run named after its workflow.
/// </summary>
[UnitTest]
public sealed class QuietTraceFilterTests
{
    private static readonly ActivitySource Source = new(TelemetryNames.LlmWorkflow);

    [Theory]
    [InlineData("GET", true, true)]
    [InlineData("HEAD", true, true)]
    [InlineData("POST", true, false)]
    [InlineData("PATCH", true, false)]
    [InlineData("GET", false, false)]
    public void OnlyTheDashboardsReadsAreLeftUntraced(string method, bool fromDashboard, bool untraced)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        if (fromDashboard)
        {
            context.Request.Headers[QuietTraceFilter.DashboardHeader] = "1";
        }

        Assert.Equal(untraced, QuietTraceFilter.IsDashboardRead(context.Request));
    }

    [Fact]
    public void ANoOpEntryExportsNoJobRunAndAClaimedJobExportsOneNamedAfterItsWorkflow()
    {
        var exporter = new CollectingActivityExporter();
        using (Sdk.CreateTracerProviderBuilder()
                   .AddSource(TelemetryNames.LlmWorkflow)
                   .AddProcessor(new QuietTraceFilter())
                   .AddProcessor(new SimpleActivityExportProcessor(exporter))
                   .Build())
        {
            var noOp = Guid.NewGuid().ToString();
            var claimed = Guid.NewGuid().ToString();
            using (var entry = Source.StartActivity(QuietTraceFilter.JobRunOperation, ActivityKind.Consumer))
            {
                entry?.SetTag("llmworkflow.job_id", noOp);
            }

            using (var run = Source.StartActivity(QuietTraceFilter.JobRunOperation, ActivityKind.Consumer))
            {
                run?.SetTag("llmworkflow.job_id", claimed);
                run?.SetTag(QuietTraceFilter.WorkflowTag, "hello_transform");
                run?.DisplayName = "job.run hello_transform";
            }

            // Other tests' spans of the same source may reach this exporter too: look only at these two jobs'.
            var exported = exporter.Exported.Where(a => (string?)a.GetTagItem("llmworkflow.job_id") is { } id && (id == noOp || id == claimed)).ToList();
            var only = Assert.Single(exported);
            Assert.Equal(claimed, (string?)only.GetTagItem("llmworkflow.job_id"));
            Assert.Equal("job.run hello_transform", only.DisplayName);
        }
    }
}
