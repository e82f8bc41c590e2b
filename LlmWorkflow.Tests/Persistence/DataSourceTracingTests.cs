using System.Collections.Concurrent;
using System.Diagnostics;
using LlmWorkflow.Pipeline;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>
/// Npgsql's spans on the services' data source (<see cref="PipelineServiceCollectionExtensions.CreateDataSource"/>):
/// a batch sent inside a span (a request, a job run) is traced with its statements' text; a batch with no span around
/// it, one the sampler would drop (the worker's group commit, in a loop of its own), starts no span at all, so Npgsql
/// never joins its statements' text into one string. Observed through Npgsql's own activity source.
/// </summary>
public sealed class DataSourceTracingTests(TestServers servers)
{
    [Fact]
    public async Task ABatchIsTracedInsideASpanAndNotOutsideOne()
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await servers.CreateDatabaseAsync(nameof(DataSourceTracingTests));
        var marker = Guid.NewGuid().ToString("N");
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var dataSource = PipelineServiceCollectionExtensions.CreateDataSource(connectionString);

        Assert.Null(Activity.Current);
        await SendBatchAsync(dataSource, $"{marker}-alone", ct);
        using (new Activity("job run").Start())
        {
            await SendBatchAsync(dataSource, $"{marker}-inside", ct);
        }

        Assert.Contains(stopped, activity => Mentions(activity, $"{marker}-inside"));
        Assert.DoesNotContain(stopped, activity => Mentions(activity, $"{marker}-alone"));
    }

    private static async Task SendBatchAsync(NpgsqlDataSource dataSource, string label, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands = { new NpgsqlBatchCommand($"SELECT '{label}'"), new NpgsqlBatchCommand("SELECT 1") },
        };
        await batch.ExecuteNonQueryAsync(ct);
    }

    private static bool Mentions(Activity activity, string label) =>
        activity.TagObjects.Any(tag => tag.Value is string text && text.Contains(label, StringComparison.Ordinal));
}
