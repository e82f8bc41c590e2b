using System.Text.Json;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;
using LlmWorkflow.Storage.Jobs;
using StackExchange.Redis;
using LlmWorkflow.Api.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Concurrent submissions share one multi-row INSERT and one pipelined XADD per batch (real Postgres and Redis):
/// every job is stored and dispatched once, rows written by one statement share a transaction id, an idempotency
/// race inside one batch has one winner, and a bad row fails only its own submission.
/// </summary>
[IntegrationTest]
public sealed class SubmissionBatcherTests(TestServers servers) : IAsyncLifetime
{
    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(SubmissionBatcherTests), TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task ConcurrentSubmissionsAreStoredAndDispatchedInSharedStatements()
    {
        const int count = 200;
        var jobs = Enumerable.Range(0, count).Select(i => Job($"user-{i}")).ToArray();
        var streamBefore = await StreamLengthAsync();

        var results = await Task.WhenAll(jobs.Select(j => Task.Run(() => Submit(j))));

        Assert.All(results, Assert.True);
        var ids = jobs.Select(j => j.Id).ToArray();
        await using var command = _db.Database.CreateCommand(
            "SELECT count(*), count(DISTINCT xmin::text) FROM llm_workflow_jobs WHERE id = ANY($1) AND status = 'queued' AND celery_task_id = id::text");
        command.Parameters.Add(new NpgsqlParameter { Value = ids });
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        await reader.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal(count, reader.GetInt64(0));
        // Rows inserted by one statement share its transaction id: fewer transactions than jobs means batching.
        var transactions = reader.GetInt64(1);
        Assert.InRange(transactions, 1, count - 1);
        Assert.Equal(streamBefore + count, await StreamLengthAsync());
    }

    [Fact]
    public async Task ALoneSubmissionIsStoredWithAllItsFields()
    {
        var job = Job("user-lone");
        job.WebhookUrl = "https://hooks.example.com/x";
        job.WebhookSecret = "s3cret";
        job.WebhookEvents = ["workflow.step_completed"];
        job.BudgetUsd = 0.25m;
        job.DebugMode = true;
        job.Priority = 9;

        Assert.True(await Submit(job));

        await using var command = _db.Database.CreateCommand("""
            SELECT workflow_name, priority, webhook_url, webhook_secret, webhook_events, user_id, username, action, input_data::text,
                   debug_mode, budget_usd, idempotency_key, queued_at = created_at AND dispatched_at = created_at
              FROM llm_workflow_jobs WHERE id = $1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = job.Id });
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        Assert.True(await reader.ReadAsync(TestContext.Current.CancellationToken));
        Assert.Equal("hello_transform", reader.GetString(0));
        Assert.Equal(9, reader.GetInt32(1));
        Assert.Equal("https://hooks.example.com/x", reader.GetString(2));
        Assert.Equal("s3cret", reader.GetString(3));
        Assert.Equal(["workflow.step_completed"], reader.GetFieldValue<string[]>(4));
        Assert.Equal("user-lone", reader.GetString(5));
        Assert.Equal("ada", reader.GetString(6));
        Assert.Equal("generate", reader.GetString(7));
        Assert.Equal("""{"name": "Ada"}""", reader.GetString(8));
        Assert.True(reader.GetBoolean(9));
        Assert.Equal(0.25m, reader.GetDecimal(10));
        Assert.True(reader.IsDBNull(11));
        Assert.True(reader.GetBoolean(12));
    }

    [Fact]
    public async Task IdempotencyRaceInsideOneBatchHasOneWinner()
    {
        for (var round = 0; round < 10; round++)
        {
            var key = $"key-{round}";
            var racers = Enumerable.Range(0, 4).Select(_ =>
            {
                var job = Job("user-idem");
                job.IdempotencyKey = key;
                return job;
            }).ToArray();

            var results = await Task.WhenAll(racers.Select(j => Task.Run(() => Submit(j))));

            Assert.Equal(1, results.Count(r => r));
            await using var command = _db.Database.CreateCommand("SELECT count(*) FROM llm_workflow_jobs WHERE idempotency_key = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = key });
            Assert.Equal(1L, await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
        }
    }

    [Fact]
    public async Task ABadRowFailsOnlyItsOwnSubmission()
    {
        var good = Enumerable.Range(0, 30).Select(i => Job($"user-good-{i}")).ToArray();
        var bad = Job("user-bad");
        bad.Username = new string('u', 300); // longer than the column (VARCHAR(255))

        var submissions = good.Select(j => Task.Run(() => Submit(j))).Append(Task.Run(() => Submit(bad))).ToArray();
        var badResult = await Record.ExceptionAsync(() => submissions[^1]);

        Assert.IsType<PostgresException>(badResult);
        foreach (var submission in submissions[..^1])
        {
            Assert.True(await submission);
        }
    }

    private Task<bool> Submit(WorkflowJob job) =>
        _db.Get<SubmissionBatcher>().InsertAndDispatchAsync(job, new JobDispatch(job.Id, job.Priority), CancellationToken.None);

    private async Task<long> StreamLengthAsync()
    {
        var queue = _db.Get<JobQueue>();
        var redis = _db.Get<IConnectionMultiplexer>().GetDatabase();
        long total = 0;
        foreach (var key in queue.StreamKeys)
        {
            total += await redis.StreamLengthAsync(key);
        }

        return total;
    }

    private static WorkflowJob Job(string userId)
    {
        var now = DateTimeOffset.UtcNow;
        var id = Guid.CreateVersion7(now);
        return new WorkflowJob
        {
            Id = id,
            CeleryTaskId = id.ToString(),
            WorkflowName = "hello_transform",
            Priority = 5,
            UserId = userId,
            Username = "ada",
            Action = "generate",
            Status = JobStatus.Queued,
            InputData = JsonDocument.Parse("""{"name":"Ada"}"""),
            QueuedAt = now,
            DispatchedAt = now,
            CreatedAt = now,
            UpdatedAt = now,
        };
    }
}
