using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using OpenTelemetry;

namespace LlmWorkflow.ServiceDefaults.Telemetry;

/// <summary>
/// Keeps traces that tell nothing out of the trace list (issue 80: 987 traces in 15 idle minutes): the operator
/// dashboard's own reads, which it repeats every few seconds per open view, and a worker's <c>job.run</c> for a stream
/// entry it had nothing to do with (the job finished, cancelled or run elsewhere: no workflow was claimed). The
/// dashboard's actions (POST, PATCH, DELETE) and every job that runs are traced as before.
/// </summary>
public sealed class QuietTraceFilter : BaseProcessor<Activity>
{
    /// <summary>The header the operator dashboard sends with each of its API calls (<c>wwwroot/dashboard/js/api.js</c>).</summary>
    public const string DashboardHeader = "X-LlmWorkflow-Dashboard";

    /// <summary>The worker's span for one stream entry; it is given the workflow's name once a job is claimed.</summary>
    public const string JobRunOperation = "job.run";

    /// <summary>The tag a claimed job's run carries: its workflow.</summary>
    public const string WorkflowTag = "llmworkflow.workflow";

    /// <summary>For the ASP.NET Core instrumentation's filter: a dashboard read starts no trace (nor do its children).</summary>
    public static bool IsDashboardRead(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && request.Headers.ContainsKey(DashboardHeader);

    /// <summary>An entry the worker found nothing to run for: its span had no children, so dropping it leaves no orphans.</summary>
    public static bool IsNoOpJobRun(Activity activity) =>
        activity.Source.Name == TelemetryNames.LlmWorkflow
        && activity.OperationName == JobRunOperation
        && activity.GetTagItem(WorkflowTag) is null;

    /// <inheritdoc />
    public override void OnEnd(Activity data)
    {
        if (IsNoOpJobRun(data))
        {
            // The exporting processors after this one skip an activity that is not recorded.
            data.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
        }
    }
}
