using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// A job whose workflow only computes is read, not claimed, and finished straight from queued
/// (<see cref="JobTransition.FinishUnclaimed"/>, <see cref="JobTransition.FailUnclaimed"/>), on a real PostgreSQL: the
/// finish writes the run's step rows, the outcome and the terminal event in one transaction, only while the job is
/// still queued at the attempt before the run's; a cancel, a claim or a second run racing it leaves one winner and
/// no step row of the loser.
/// </summary>
public sealed class UnclaimedRunTests(TestServers servers) : IAsyncLifetime
{
    private static readonly string[] ComputeOnly = ["hello_transform"];

    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(UnclaimedRunTests), TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task AQueuedJobOfAWorkflowThatOnlyComputesIsReadNotClaimed()
    {
        var id = await _db.InsertJobAsync(JobStatus.Queued);

        var read = Assert.Single(await ReadAsync(id)).Value;

        Assert.False(read.Leased);
        Assert.Equal(1, read.Attempt);
        Assert.Equal(JobStatus.Queued, await _db.StatusAsync(id));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND attempt = 0 AND lease_owner IS NULL AND started_at IS NULL", id));

        // Without the list (a reclaimed entry), or for any other workflow, the same job is claimed as always.
        var claimed = Assert.Single(await _db.Store.ClaimAsync([id], "worker-a", TimeSpan.FromSeconds(30), CancellationToken.None)).Value;
        Assert.True(claimed.Leased);
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
    }

    [Fact]
    public async Task AJobWhoseWebhookWantsEachStepIsClaimed()
    {
        var id = await _db.InsertJobAsync(JobStatus.Queued);
        await ExecuteAsync("UPDATE llm_workflow_jobs SET webhook_events = '{workflow.step_completed}' WHERE id = $1", id);

        Assert.True(Assert.Single(await ReadAsync(id)).Value.Leased);
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
    }

    [Theory]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    public async Task TheFinishWritesStepRowsOutcomeAndEventInOneTransaction(JobStatus outcome)
    {
        var id = await _db.InsertJobAsync(JobStatus.Queued);
        var read = Assert.Single(await ReadAsync(id)).Value;

        Assert.True(await _db.Store.FinishUnclaimedAsync(read, "worker-a", Outcome(outcome), [StepRow(read, "a")], CancellationToken.None));

        Assert.Equal(outcome, await _db.StatusAsync(id));
        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND attempt = 1 AND started_at IS NOT NULL AND completed_at >= started_at AND lease_owner IS NULL", id));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND job_attempt = 1 AND notes = 'a'", id));
        Assert.Equal(new[] { ($"workflow.{outcome.ToWire()}", outcome.ToWire()) }, await _db.TerminalEventsAsync(id));
        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(*) FROM llm_webhook_attempts WHERE job_id = $1 AND (payload -> 'metadata' ->> 'attempt')::int = 1", id));
        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM llm_workflow_jobs WHERE id = $1 UNION ALL SELECT xmin::text FROM llm_job_steps WHERE job_id = $1) t", id));
    }

    [Theory]
    [InlineData(JobStatus.Pending)]
    [InlineData(JobStatus.Processing)]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    public async Task FinishingWithoutAClaimAJobThatIsNotQueuedChangesNothing(JobStatus current)
    {
        var id = await _db.InsertJobAsync(current);
        var run = Run(id, attempt: (int)await _db.CountAsync("SELECT attempt::bigint FROM llm_workflow_jobs WHERE id = $1", id) + 1);

        Assert.False(await _db.Store.FinishUnclaimedAsync(run, "worker-a", Outcome(JobStatus.Completed), [StepRow(run, "a")], CancellationToken.None));

        Assert.Equal(current, await _db.StatusAsync(id));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", id));
        Assert.Empty(await _db.TerminalEventsAsync(id));
    }

    [Fact]
    public async Task ARunOfAnEarlierAttemptCannotFinishTheJob()
    {
        // Read at attempt 0, then claimed, released and queued again by others: the job is at attempt 1 now.
        var id = await _db.InsertJobAsync(JobStatus.Queued);
        var read = Assert.Single(await ReadAsync(id)).Value;
        await ExecuteAsync("UPDATE llm_workflow_jobs SET attempt = 1 WHERE id = $1", id);

        Assert.False(await _db.Store.FinishUnclaimedAsync(read, "worker-a", Outcome(JobStatus.Completed), [StepRow(read, "a")], CancellationToken.None));
        Assert.Equal(JobStatus.Queued, await _db.StatusAsync(id));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", id));
    }

    [Fact]
    public void ACancelledOutcomeIsNotAnUnclaimedTransition() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => _db.Store.FinishUnclaimedStatement(Run(Guid.NewGuid(), 1), "worker-a", Outcome(JobStatus.Cancelled)));

    [Fact]
    public async Task ACancelRacingTheFinishHasOneWinnerAndTheLoserWritesNoStepRow()
    {
        var ids = new List<Guid>();
        for (var i = 0; i < 100; i++)
        {
            ids.Add(await _db.InsertJobAsync(JobStatus.Queued));
        }

        var reads = await ReadAsync([.. ids]);
        var outcomes = await Task.WhenAll(ids.Select(async id =>
        {
            var cancel = Task.Run(() => _db.CommandsAsync(c => c.CancelAsync(id, CancellationToken.None)));
            var finish = Task.Run(() => _db.Store.FinishUnclaimedAsync(reads[id], "worker-a", Outcome(JobStatus.Completed), [StepRow(reads[id], "a")], CancellationToken.None));
            return (Id: id, Cancel: await cancel, Finished: await finish);
        }));

        foreach (var (id, cancel, finished) in outcomes)
        {
            var status = await _db.StatusAsync(id);
            var stepRows = await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", id);
            if (finished)
            {
                Assert.Equal(CancelOutcome.AlreadyFinished, cancel);
                Assert.Equal(JobStatus.Completed, status);
                Assert.Equal(1, stepRows);
                Assert.Equal(new[] { ("workflow.completed", "completed") }, await _db.TerminalEventsAsync(id));
            }
            else
            {
                Assert.Equal(CancelOutcome.Cancelled, cancel);
                Assert.Equal(JobStatus.Cancelled, status);
                Assert.Equal(0, stepRows);
                Assert.Equal(new[] { ("workflow.cancelled", "cancelled") }, await _db.TerminalEventsAsync(id));
            }
        }
    }

    [Fact]
    public async Task TwoRunsOfOneJobFinishItOnceWithTheWinnersStepRows()
    {
        for (var i = 0; i < 20; i++)
        {
            // Two entries for one job (a re-dispatch) read by two workers: both run it, one finish wins.
            var id = await _db.InsertJobAsync(JobStatus.Queued);
            var first = Assert.Single(await ReadAsync(id)).Value;
            var second = Assert.Single(await ReadAsync(id)).Value;
            var results = await Task.WhenAll(
                Task.Run(() => _db.Store.FinishUnclaimedAsync(first, "worker-a", Outcome(JobStatus.Completed), [StepRow(first, "a")], CancellationToken.None)),
                Task.Run(() => _db.Store.FinishUnclaimedAsync(second, "worker-b", Outcome(JobStatus.Completed), [StepRow(second, "b")], CancellationToken.None)));

            Assert.Equal(1, results.Count(r => r));
            var winner = results[0] ? "a" : "b";
            Assert.Equal(1, await _db.CountAsync($"SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND notes = '{winner}'", id));
            Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", id));
            Assert.Single(await _db.TerminalEventsAsync(id));
        }
    }

    [Fact]
    public async Task AClaimAfterTheReadWinsOverTheUnclaimedFinish()
    {
        var id = await _db.InsertJobAsync(JobStatus.Queued);
        var read = Assert.Single(await ReadAsync(id)).Value;

        // Another worker reclaimed the entry (claims are never unclaimed then) and holds the job.
        Assert.True(Assert.Single(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None)).Value.Leased);

        Assert.False(await _db.Store.FinishUnclaimedAsync(read, "worker-a", Outcome(JobStatus.Completed), [StepRow(read, "a")], CancellationToken.None));
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", id));
    }

    private Task<IReadOnlyDictionary<Guid, ClaimedJob>> ReadAsync(params Guid[] ids) =>
        _db.Store.ClaimAsync(ids, "worker-a", TimeSpan.FromSeconds(30), CancellationToken.None, ComputeOnly);

    private async Task ExecuteAsync(string sql, Guid id)
    {
        await using var command = _db.Database.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private static ClaimedJob Run(Guid id, int attempt) =>
        new(id, "hello_transform", new JsonObject(), attempt, null, null, null, null, false, 0, true, [], Leased: false, StartedAt: DateTimeOffset.UtcNow);

    /// <summary>A step row of the run, told apart from another run's by its notes.</summary>
    private static WriteStatement StepRow(ClaimedJob run, string notes) =>
        JobStore.StepStatement(run.Id, run.Attempt, new StepRecord
        {
            StepKey = "greet",
            StepId = "greet",
            DisplayName = "Greet",
            Type = "transform",
            Status = StepStatus.Completed,
            Attempts = 1,
            StartedAt = DateTimeOffset.UtcNow,
            FinishedAt = DateTimeOffset.UtcNow,
            Output = JsonValue.Create(notes),
            Notes = notes,
        }, JsonValue.Create(notes), isCheckpoint: true, leased: false);

    private static JobOutcome Outcome(JobStatus status) => status == JobStatus.Completed
        ? new JobOutcome(status, new JsonObject { ["output"] = new JsonObject { ["ok"] = true } }, null, 0, 0, 0m)
        : new JobOutcome(status, null, new WorkflowError { Type = "TestError", Category = ErrorCategory.SystemError, Message = "boom" }, 0, 0, 0m);
}
