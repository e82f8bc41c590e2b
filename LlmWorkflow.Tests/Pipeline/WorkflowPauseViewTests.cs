using System.Collections.Concurrent;
using System.Diagnostics;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The submit path's view of the paused workflows (it only sets the 202's status; the Submit statement decides): reread
/// at most once per <see cref="WorkflowPauses.ViewTimeToLive"/>, once for all the submissions that find it stale together,
/// and a pause made through another replica shows within that time.
/// </summary>
[IntegrationTest]
public sealed class WorkflowPauseViewTests(ClassLifecycleDatabase database) : IClassFixture<ClassLifecycleDatabase>
{
    private readonly LifecycleDatabase _db = database.Database;

    [Fact]
    public async Task SubmissionsThatFindTheViewStaleTogetherShareOneRereadAndAPauseElsewhereShowsWithinTheViewsLifetime()
    {
        var ct = TestContext.Current.CancellationToken;
        var pauses = new WorkflowPauses(_db.Store, _db.Get<JobQueue>(), TimeProvider.System, NullLogger<WorkflowPauses>.Instance);

        // Npgsql traces each command; only this test's rereads (children of its own root) are counted, not its pause.
        var rereads = new ConcurrentQueue<Activity>();
        using var root = new Activity("pause-view-test").Start();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span =>
            {
                if (span.TraceId == root.TraceId
                    && (span.GetTagItem("db.query.text") ?? span.GetTagItem("db.statement")) is string sql && sql.StartsWith("SELECT workflow_name FROM llm_workflow_pauses", StringComparison.Ordinal))
                {
                    rereads.Enqueue(span);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        // A new view is stale: 32 concurrent submissions find it so.
        var answers = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => pauses.IsPausedAsync("greeting", ct), ct)));
        Assert.All(answers, Assert.False);
        Assert.Single(rereads);

        // Another replica pauses the workflow: this one sees it once its view has aged out.
        await _db.Store.PauseWorkflowAsync("greeting", "operator", "test", ct);
        var deadline = Stopwatch.StartNew();
        while (!await pauses.IsPausedAsync("greeting", ct))
        {
            Assert.True(deadline.Elapsed < WorkflowPauses.ViewTimeToLive + TimeSpan.FromSeconds(5), "The pause never showed in the view.");
            await Task.Delay(50, ct);
        }

        Assert.Equal(2, rereads.Count);
        await _db.Store.ResumeWorkflowAsync("greeting", ct);
    }
}
